"""office_processes and session_message against the host's real logon sessions."""

from __future__ import annotations

import uuid

from .kit import Ansible, same_account


def test_office_processes_query_costs_one_command(ansible: Ansible, host: str) -> None:
    run = ansible.playbook("- name: query\n  rollout.windows.office_processes:\n", hosts=host)
    assert run.rc == 0, run.stdout
    result = run.result(host, "query")
    assert result["_status"] == "ok", result
    assert result["polls"] == 1
    assert result["winrm"]["commands"] == 1
    for process in result["processes"]:
        assert {"pid", "name", "session_id", "user", "start_time"} <= set(process), process


def test_office_processes_sees_the_test_users_session(ansible: Ansible, host: str, logged_on_user: str) -> None:
    # The user's desktop shell stands in for an Office application: it runs whenever the user is logged on.
    run = ansible.playbook("- name: query\n  rollout.windows.office_processes: {processes: [explorer]}\n", hosts=host)
    result = run.result(host, "query")
    assert result["_status"] == "ok", result
    sessions = [s for s in result["sessions"] if same_account(s["user"], logged_on_user)]
    assert sessions, f"{logged_on_user} has no logon session on {host}: {result['sessions']}"
    assert any(same_account(u, logged_on_user) for u in result["users"]), result["users"]
    theirs = [p for p in result["processes"] if same_account(p["user"], logged_on_user)]
    assert theirs, result["processes"]
    assert {p["session_id"] for p in theirs} <= {s["id"] for s in sessions}
    assert all(p["name"].lower() == "explorer.exe" for p in theirs)


def test_session_message_reaches_the_test_users_session(ansible: Ansible, host: str, logged_on_user: str) -> None:
    nobody = f"rwkit-{uuid.uuid4().hex[:8]}"
    run = ansible.playbook(
        """
        - name: tell
          rollout.windows.session_message:
            users: ["{{ user }}", "{{ nobody }}"]
            title: rollout.windows acceptance kit
            message: "This is a test message from the rollout.windows acceptance kit.\\nYou can close it."
        """,
        hosts=host,
        extra_vars={"user": logged_on_user, "nobody": nobody},
    )
    assert run.rc == 0, run.stdout
    result = run.result(host, "tell")
    assert result["_status"] == "changed", result
    assert result["sessions"], result
    for session in result["sessions"]:
        assert same_account(session["user"], logged_on_user), session
        assert session["sent"] is True, session
        assert not session["error"], session
    assert result["users_without_session"] == [nobody]
