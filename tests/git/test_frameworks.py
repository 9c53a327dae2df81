"""Real frameworks pushed with `git push`: Flask + gunicorn, Django with static files and a release
step, Express. Unlike test_push.py these builds download their dependencies from the package
registries (PyPI, npm) through the build containers' NAT, as a user's build would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import runc_platform
from tests.git.test_push import Developer, Platform, dev, name, remote_lines, serves

__all__ = ["dev"]  # the fixture, used here with this module's platform

pytestmark = pytest.mark.slow

FLASK_APP = """\
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "hello from flask"
"""

DJANGO_FILES = {
    "manage.py": """\
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_conf.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
""",
    "site_conf/__init__.py": "",
    "site_conf/settings.py": """\
from pathlib import Path
BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.staticfiles"]
MIDDLEWARE = ["whitenoise.middleware.WhiteNoiseMiddleware"]
ROOT_URLCONF = "site_conf.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/db.sqlite3"}}
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
USE_TZ = True
""",
    "site_conf/urls.py": """\
from django.http import HttpResponse
from django.urls import path
urlpatterns = [path("", lambda request: HttpResponse("hello from django"))]
""",
    "site_conf/wsgi.py": """\
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_conf.settings")
from django.core.wsgi import get_wsgi_application
application = get_wsgi_application()
""",
    "static/site.css": "body { color: rebeccapurple; }\n",
    "requirements.txt": "Django>=4.2,<5\ngunicorn\nwhitenoise\n",
    "Procfile": "web: gunicorn site_conf.wsgi --bind 0.0.0.0:$PORT\n"
                "release: python manage.py migrate --noinput && echo release-step-done\n",
}

EXPRESS_APP = """\
const express = require("express");
const app = express();
app.get("/", (req, res) => res.send("hello from express"));
app.listen(process.env.PORT, "0.0.0.0");
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with runc_platform(tmp_path_factory.mktemp("fw-platform"), "fw", "10.219.0.0/16", ("pyf", "pfb")) as server:
        yield Platform(server, tmp_path_factory.mktemp("unused-packs"), 0)


def test_flask_with_gunicorn(dev: Developer) -> None:
    app = name("flask")
    repo = dev.app(app, {"app.py": FLASK_APP, "requirements.txt": "flask\ngunicorn\n",
                         "Procfile": "web: gunicorn app:app --bind 0.0.0.0:$PORT\n"})
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "-----> Python app detected" in remote_lines(pushed.stderr)
    assert serves(dev.server, app) == "hello from flask"


def test_django_with_static_files_and_a_release_step(dev: Developer) -> None:
    app = name("django")
    repo = dev.app(app, dict(DJANGO_FILES))
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    lines = remote_lines(pushed.stderr)
    assert "-----> $ python manage.py collectstatic --noinput" in lines, pushed.stderr
    assert serves(dev.server, app) == "hello from django"
    css = httpx.get(f"http://127.0.0.1:{dev.server.router_port}/static/site.css",
                    headers={"Host": f"{app}.localhost"}, timeout=30)
    assert css.status_code == 200 and "rebeccapurple" in css.text  # collected, served by whitenoise
    output = dev.pyroku("releases:output", "-a", app)
    assert output.returncode == 0 and "release-step-done" in output.stdout, output.stderr
    assert "Applying auth.0001_initial" in output.stdout


def test_express(dev: Developer) -> None:
    app = name("express")
    package = ('{"name": "hello", "version": "1.0.0", "engines": {"node": "18.x"},'
               ' "scripts": {"start": "node index.js"}, "dependencies": {"express": "^4.19.0"}}')
    repo = dev.app(app, {"package.json": package, "index.js": EXPRESS_APP})
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "-----> Node.js app detected" in remote_lines(pushed.stderr)
    assert serves(dev.server, app) == "hello from express"  # no Procfile: `npm start` is the web process
