"""What a dyno's process sees: its environment, profile scripts, user, files, exit status."""

from __future__ import annotations

import pytest

from tests.runtime.conftest import Harness

pytestmark = pytest.mark.anyio


async def test_env_config_vars_and_profile_scripts(harness: Harness) -> None:
    exit_, out = await harness.run(
        'echo "A=$MY_VAR P=$PORT D=$DYNO H=$HOME V=$PYROKU_RELEASE_VERSION N=$PYROKU_APP_NAME"; '
        'echo "PD=$FROM_PROFILE_D O=$OVERRIDE ORD=$ORDER L=$LANG"; echo "PATH=$PATH"; pwd',
        env={"MY_VAR": "hello world", "OVERRIDE": "config", "PORT": "1", "DYNO": "spoofed"},
        port=5123, dyno_name="web.3",
    )
    assert exit_.status == 0
    assert out[0] == "A=hello world P=5123 D=web.3 H=/app V=v7 N=test-app"
    # config vars first, then .profile.d/*.sh, then .profile: each may override what came before
    assert out[1] == "PD=yes O=profile ORD=d+profile L=C.UTF-8"
    assert out[2].startswith("PATH=/usr/local/bin:")
    assert out[3] == "/app"


async def test_no_port_for_non_web_dynos(harness: Harness) -> None:
    _, out = await harness.run('echo "port=${PORT-unset}"', dyno_name="worker.1", env={"PORT": "9"})
    assert out == ["port=unset"]


async def test_runs_as_unprivileged_user_without_capabilities(harness: Harness) -> None:
    exit_, out = await harness.run(
        "id -u; id -g; whoami; grep -E '^(CapEff|CapPrm|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; "
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname"
    )
    assert exit_.status == 0
    assert out[:3] == ["1000", "1000", "u1000"]
    status = dict(line.split(":\t") for line in out[3:9])
    assert status == {"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapBnd": "0000000000000000",
                      "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2"}
    assert out[9].startswith("/dev/init -g -- /bin/bash -c")  # tini is PID 1
    assert out[10] == exit_.id  # hostname = dyno id


async def test_cannot_write_the_stack_or_escalate(harness: Harness) -> None:
    _, out = await harness.run(
        "touch /usr/bin/evil 2>/dev/null && echo wrote-usr || echo no-usr; "
        "touch /etc/evil 2>/dev/null && echo wrote-etc || echo no-etc; "
        "(echo x > /etc/resolv.conf) 2>/dev/null && echo wrote-resolv || echo no-resolv; "
        "su -c true 2>/dev/null && echo root || echo no-root; "
        "unshare -r true 2>/dev/null && echo userns || echo no-userns; "
        "touch /app/ok /tmp/ok && echo app-writable"
    )
    assert out == ["no-usr", "no-etc", "no-resolv", "no-root", "no-userns", "app-writable"]
    # the stack on the host is untouched
    assert not (harness.config.stack_dir / "usr/bin/evil").exists()


@pytest.mark.parametrize(("command", "status"), [("true", 0), ("exit 3", 3), ("exit 255", 255),
                                                 ("kill -TERM $$", 143), ("kill -KILL $$", 137)])
async def test_exit_status(harness: Harness, command: str, status: int) -> None:
    exit_, _ = await harness.run(command)
    assert exit_.status == status
    assert exit_.reason == "exited"
    assert not exit_.oom_killed
    assert not exit_.grace_expired


async def test_ephemeral_filesystem(harness: Harness) -> None:
    exit_, out = await harness.run(
        "echo data > /app/new-file; echo more >> /app/index.html; echo t > /tmp/t; echo x > /var/tmp/x 2>&1; "
        "cat /app/new-file; tail -1 /app/index.html"
    )
    assert exit_.status == 0
    assert out[:2] == ["data", "more"]
    # the next dyno of the same release starts from the slug again
    _, out = await harness.run(
        "ls /app/new-file /tmp/t /var/tmp/x 2>/dev/null | wc -l; cat /app/index.html"
    )
    assert out == ["0", "hello from the slug"]


async def test_profile_d_sourced_in_order(harness: Harness) -> None:
    slug = harness.slugs.make({
        ".profile.d/10-first.sh": "export SEEN=first\n",
        ".profile.d/20-second.sh": 'export SEEN="$SEEN,second"\n',
        ".profile.d/not-a-script.txt": "export SEEN=wrong\n",
    })
    _, out = await harness.run('echo "$SEEN"', slug=slug)
    assert out == ["first,second"]
