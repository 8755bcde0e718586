"""The rollout role's defaults are its argument specs' (both entry points), the method's variables included."""

from __future__ import annotations

import typing as t
from pathlib import Path

import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles" / "rollout"


def load(path: Path) -> t.Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_default_is_an_option_with_the_same_default() -> None:
    defaults = load(ROLE / "defaults" / "main.yml")
    specs = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]
    options = {**specs["plan"]["options"], **specs["main"]["options"]}
    assert set(defaults) <= set(options)
    for name, value in defaults.items():
        assert options[name].get("default") == value, name


def test_the_method_and_its_variables_are_in_the_main_entry_point() -> None:
    options = load(ROLE / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert options["rollout_method"]["choices"] == ["push", "autoupdater"]
    assert options["rollout_method"]["default"] == "push"
    for name in (
        "rollout_autoupdater_nudge",
        "rollout_adoption_timeout",
        "rollout_adoption_poll",
        "rollout_wave_min_age",
    ):
        assert name in options, name


ROOT = ROLE.parents[1]


def test_each_method_has_its_own_play_and_main_dispatches_for_composed_plays() -> None:
    tasks = [task for task in load(ROLE / "tasks" / "main.yml") if "ansible.builtin.import_tasks" in task]
    assert [(task["ansible.builtin.import_tasks"], task["when"]) for task in tasks] == [
        ("push.yml", "rollout_method == 'push'"),
        ("autoupdater.yml", "rollout_method == 'autoupdater'"),
    ]
    plays = load(ROOT / "playbooks" / "rollout.yml")[1:]
    for play, method in zip(plays, ("push", "autoupdater"), strict=True):
        # The play of the method not chosen gets no host, so no task of it runs (and none is skipped per host).
        assert f"== '{method}' else []" in play["hosts"]
        (step,) = play["tasks"]
        assert step["ansible.builtin.import_role"]["tasks_from"] == method


def per_host_tasks(path: Path) -> list[str]:
    """The tasks of a task file that run per host (not run_once), imports followed."""
    names: list[str] = []
    for task in load(path) or []:
        if task.get("run_once"):
            continue
        if "ansible.builtin.import_tasks" in task:
            names += per_host_tasks(path.parent / task["ansible.builtin.import_tasks"])
        elif "ansible.builtin.import_role" in task:
            role = task["ansible.builtin.import_role"]
            names += per_host_tasks(
                ROOT / "roles" / role["name"].rsplit(".", 1)[-1] / "tasks" / f"{role.get('tasks_from', 'main')}.yml"
            )
        else:
            names.append(task["name"])
    return names


def test_a_push_batch_costs_one_task_per_host() -> None:
    # Every other step (plan, checks, gate, soak, approval) runs once per batch on the controller; the install
    # task itself reads the host first, so a host that has the release costs this one task and one command.
    assert per_host_tasks(ROLE / "tasks" / "push.yml") == ["Close Office, install or upgrade, verify"]


def test_the_install_arguments_are_built_once_from_the_package_facts_the_plan_read() -> None:
    plan = load(ROLE / "tasks" / "plan.yml")
    (build,) = [entry for entry in plan if entry["name"] == "Build the install's arguments"]
    assert build["ansible.builtin.import_role"] == {"name": "rollout.windows.msi_install", "tasks_from": "arguments"}
    assert build["vars"]["__rollout_package"] == "{{ lookup('rollout.windows.msi_facts', rollout_package_src) }}"
    assert {k: v for k, v in build["vars"].items() if k.startswith("msi_install_")} == {
        "msi_install_src": "{{ rollout_package_src }}",
        "msi_install_product_code": "{{ __rollout_package.product_code }}",
        "msi_install_version": "{{ __rollout_package.version }}",
        "msi_install_upgrade_code": "{{ __rollout_package.upgrade_code }}",
        "msi_install_properties": "{{ rollout_package_properties }}",
    }
    (keep,) = [entry for entry in plan if entry["name"] == "Keep the plan for the rollout play"]
    assert "msi_install_arguments" in keep["ansible.builtin.set_fact"]["__rollout_plan"]["install"]
    # Built with one client's values for all: every value behind them must be the same for every client.
    (same,) = [entry for entry in plan if entry["name"] == "Check the rollout's settings and inputs"]
    for name in ("'rollout_package_src'", "'rollout_package_properties'", "'^msi_install_', '^office_gate_'"):
        assert name in same["vars"]["__rollout_differing"], name
    assert plan.index(same) < plan.index(build) < plan.index(keep)
    push = load(ROLE / "tasks" / "push.yml")
    (give,) = [entry for entry in push if entry["name"] == "Give the batch the install's arguments"]
    assert give["run_once"] is True
    assert "__rollout_install" in give["ansible.builtin.set_fact"]
    # Read by the fact's name: no template in the task that runs on every host.
    (install,) = [entry for entry in push if "rollout.windows.msi_package" in entry]
    assert install["rollout.windows.msi_package"] == {"options_from": "__rollout_install"}
    assert "args" not in install
