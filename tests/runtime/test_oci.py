"""The pure parts: the OCI config, cgroup layouts and engine choice, the firewall, the stack recipe."""

from __future__ import annotations

from pathlib import Path

import pytest

import pyroku.runtime as runtime_api
from pyroku.runtime import DynoSpec, InvalidDynoSpec, NetworkConfig, RuntimeConfig, RuntimeUnavailable, StackInfo
from pyroku.runtime._cgroups import choose_engine, detect_layout
from pyroku.runtime._network import _hex_ipv4, _hex_ipv4_mapped, ruleset, veth_name
from pyroku.runtime._oci import container_config, dyno_env, validate
from pyroku.runtime.stack import StackRecipe, read_info
from pyroku.runtime.stack import main as stack_main
from pyroku.sizes import DYNO_SIZES

SPEC = DynoSpec(app_id="a1", app_name="app", dyno_name="web.2", release_version=12, slug_id="s",
                slug_checksum="SHA256:" + "0" * 64, command="gunicorn app:app", env={"SECRET": "x"},
                size=DYNO_SIZES["standard-2x"], port=5000)


def _config(spec: DynoSpec = SPEC, **changes: object) -> dict[str, object]:
    config = RuntimeConfig(**changes)  # type: ignore[arg-type]
    return container_config(spec, dyno_id="d-1", config=config, rootfs=Path("/r"),
                            etc_files={"/etc/hosts": Path("/h")}, cgroup_path="/pyroku/d-1")


def test_public_names() -> None:
    assert sorted(runtime_api.__all__) == sorted(set(runtime_api.__all__))
    for name in runtime_api.__all__:
        assert hasattr(runtime_api, name), name


def test_container_is_locked_down() -> None:
    oci = _config()
    process = oci["process"]
    assert isinstance(process, dict)
    assert process["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000]}
    assert process["noNewPrivileges"] is True
    assert all(v == [] for v in process["capabilities"].values())
    assert process["args"][:4] == ["/dev/init", "-g", "--", "/bin/bash"]
    assert process["args"][-1] == "gunicorn app:app"
    assert process["cwd"] == "/app"
    linux = oci["linux"]
    assert isinstance(linux, dict)
    assert {n["type"] for n in linux["namespaces"]} == {"pid", "ipc", "uts", "mount", "cgroup"}  # net: the supervisor's
    resources = linux["resources"]
    assert resources["memory"] == {"limit": 1024 * 2**20, "swap": 1024 * 2**20}  # no swap
    assert resources["pids"] == {"limit": 512}
    assert resources["cpu"] == {"shares": 2048, "period": 100_000, "quota": 200_000}
    assert oci["hostname"] == "d-1"
    mounts = {m["destination"]: m for m in oci["mounts"]}  # type: ignore[attr-defined]
    assert "size=1024m" in mounts["/tmp"]["options"]
    assert mounts["/dev/init"]["options"][:2] == ["bind", "ro"]
    assert "ro" in mounts["/etc/hosts"]["options"]
    seccomp = linux["seccomp"]
    assert any("bpf" in rule["names"] for rule in seccomp["syscalls"])


def test_memory_limit_factor() -> None:
    memory = _config(memory_limit_factor=2.0)["linux"]["resources"]["memory"]  # type: ignore[index]
    assert memory == {"limit": 2048 * 2**20, "swap": 2048 * 2**20}
    with pytest.raises(ValueError):
        RuntimeConfig(memory_limit_factor=0.5)


def test_stack_command_line(stack: StackInfo, capsys: pytest.CaptureFixture[str]) -> None:
    assert stack_main(["path", "--dir", str(stack.path.parent)]) == 0
    assert capsys.readouterr().out.strip() == str(stack.path)
    assert stack_main(["build", "--dir", str(stack.path.parent)]) == 0  # current: no rebuild
    assert "built in" in capsys.readouterr().out
    assert stack_main(["path", "--dir", "/nonexistent"]) == 1
    info = read_info(stack.path)
    assert info is not None and info.digest == StackRecipe().digest()
    assert (stack.path / "usr/bin/python3").exists() and (stack.path / "usr/bin/node").exists()


def test_cpu_quota_is_optional_and_dedicated_sizes_burst() -> None:
    assert "quota" not in _config(cpu_quota_per_share=None)["linux"]["resources"]["cpu"]  # type: ignore[index]
    dedicated = DynoSpec(**{**SPEC.__dict__, "size": DYNO_SIZES["performance-m"]})
    assert "quota" not in _config(dedicated)["linux"]["resources"]["cpu"]  # type: ignore[index]


def test_environment_precedence() -> None:
    env = dyno_env(DynoSpec(**{**SPEC.__dict__, "env": {"PORT": "1", "DYNO": "x", "HOME": "/root", "LANG": "fr",
                                                         "PATH": "/custom"}}))
    assert env["PORT"] == "5000" and env["DYNO"] == "web.2" and env["HOME"] == "/app"
    assert env["LANG"] == "fr" and env["PATH"] == "/custom"  # defaults the app may change
    assert env["PYROKU_RELEASE_VERSION"] == "v12" and env["PYROKU_APP_NAME"] == "app"
    worker = dyno_env(DynoSpec(**{**SPEC.__dict__, "port": None, "env": {"PORT": "1"}}))
    assert "PORT" not in worker


@pytest.mark.parametrize("changes", [
    {"dyno_name": "web"}, {"dyno_name": "web.x"}, {"dyno_name": "a b.1"}, {"command": " "},
    {"port": 0}, {"port": 70000}, {"env": {"": "x"}}, {"release_version": -1},
])
def test_invalid_specs(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidDynoSpec):
        validate(DynoSpec(**{**SPEC.__dict__, **changes}))


HYBRID = """\
30 24 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""
PURE_V2 = "30 24 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
PURE_V1 = "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"


def test_cgroup_layouts() -> None:
    v2 = detect_layout(PURE_V2)
    assert (v2.version, v2.hybrid) == (2, False)
    assert v2.memory_dir("/pyroku/x") == Path("/sys/fs/cgroup/pyroku/x")
    v1 = detect_layout(PURE_V1)
    assert (v1.version, v1.hybrid, v1.crun_compatible) == (1, False, True)
    assert v1.procs_file("/pyroku/x") == Path("/sys/fs/cgroup/pids/pyroku/x/cgroup.procs")
    hybrid = detect_layout(HYBRID)
    assert hybrid.hybrid
    with pytest.raises(RuntimeUnavailable):
        detect_layout("")


def test_engine_choice_avoids_crun_on_hybrid_hosts_with_v2_controllers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    hybrid = detect_layout(HYBRID)
    broken = type(hybrid)(1, Path("/sys/fs/cgroup/unified"), frozenset({"hugetlb"}))
    assert choose_engine("auto", broken) == ("runc", "/usr/bin/runc")
    with pytest.raises(RuntimeUnavailable, match="hybrid"):
        choose_engine("crun", broken)
    assert choose_engine("auto", detect_layout(PURE_V2))[0] == "crun"
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeUnavailable):
        choose_engine("auto", detect_layout(PURE_V2))


def test_network_config_and_ruleset() -> None:
    with pytest.raises(ValueError):
        NetworkConfig(subnet="10.0.0.0/30")
    with pytest.raises(ValueError):
        NetworkConfig(interface_prefix="toolong")
    config = NetworkConfig(subnet="10.213.0.0/16", nat=False)
    assert config.slots == 16384
    text = ruleset(config)
    assert "masquerade" not in text
    assert 'iifname "pyk*" reject with icmpx admin-prohibited' in text
    assert veth_name(config, "0a1b2c3d-4e5f-6789-abcd-ef0123456789") == "pyk0a1b2c3d4e5f"
    assert _hex_ipv4("10.213.0.2") == "0200D50A"  # as /proc/net/tcp prints it
    assert _hex_ipv4_mapped("10.213.0.2") == "0000000000000000FFFF00000200D50A"


def test_stack_recipe_digest_and_manifest(tmp_path: Path) -> None:
    assert StackRecipe().digest() == StackRecipe().digest()
    assert StackRecipe(packages=("bash",)).digest() != StackRecipe().digest()
    assert read_info(tmp_path) is None
