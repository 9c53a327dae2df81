"""What the python buildpack installs: writes requirements.txt, constraints.txt and requirements.key
into the cache directory given. requirements.txt wins; else pyproject.toml's [project] dependencies,
pinned by uv.lock or poetry.lock when present (the app itself is not installed, as on Heroku)."""

import hashlib
import sys
import tomllib
from pathlib import Path


def fail(message: str) -> None:
    print(f" !     {message}")
    sys.exit(1)


def lock_pins(build: Path) -> list[str]:
    for name in ("uv.lock", "poetry.lock"):
        path = build / name
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                fail(f"Cannot read {name}: {exc}")
            pins = []
            for package in data.get("package", []):
                source = package.get("source", {})
                if isinstance(source, dict) and ("editable" in source or "virtual" in source):
                    continue  # the project itself
                if package.get("name") and package.get("version"):
                    pins.append(f"{package['name']}=={package['version']}")
            print(f"-----> Pinning versions from {name}")
            return pins
    return []


def requirements_texts(build: Path, name: str, seen: set[str]) -> list[str]:
    """The text of a requirements file and of the files it includes (-r, -c), for the cache key."""
    if name in seen or len(seen) > 50:
        return []
    seen.add(name)
    path = build / name
    try:
        text = path.read_text()
    except OSError:
        return []
    texts = [text]
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("-r", "-c", "--requirement", "--constraint"):
            included = str((path.parent / words[1]).relative_to(build)) if not words[1].startswith("/") else ""
            if included and ".." not in included:
                texts += requirements_texts(build, included, seen)
    return texts


def main() -> None:
    build, cache = Path(sys.argv[1]), Path(sys.argv[2])
    requirements: list[str] = []
    constraints: list[str] = []
    keyed: list[str] = []
    if (build / "requirements.txt").is_file():
        keyed = requirements_texts(build, "requirements.txt", set())
        if any(line.strip() and not line.strip().startswith("#") for line in keyed[0].splitlines()):
            requirements = [f"-r {build}/requirements.txt"]
    elif (build / "pyproject.toml").is_file():
        try:
            project = tomllib.loads((build / "pyproject.toml").read_text()).get("project", {})
        except tomllib.TOMLDecodeError as exc:
            fail(f"pyproject.toml is not valid TOML: {exc}")
        requirements = list(project.get("dependencies", []))
        constraints = lock_pins(build)
    elif (build / "setup.py").is_file() or (build / "setup.cfg").is_file():
        requirements = [str(build)]
    elif (build / "Pipfile").is_file():
        fail("Pipfile is not supported: add a requirements.txt (pipenv requirements > requirements.txt).")
    (cache / "requirements.txt").write_text("\n".join(requirements) + "\n" if requirements else "")
    (cache / "constraints.txt").write_text("\n".join(constraints) + "\n" if constraints else "")
    key = hashlib.sha256("\0".join(["r", *requirements, *keyed, "c", *constraints]).encode()).hexdigest()
    (cache / "requirements.key").write_text(key + "\n")


main()
