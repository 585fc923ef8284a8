"""gpulab.dgx.handoff_notes, run by ansible-playbook on the controller (no Docker needed): notes are
written with mode 0600 in a 0700 directory, only where text or mode differ; a changed template
reaches every note; check mode writes nothing and reports what it would; removal; names that could
point outside the directory, and templates that do not render, fail before anything is written."""
import json
import os
import stat
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def tenant(name, port):
    return {"name": name, "ssh_port": port, "login_user": "root"}


def run(tmp_path, notes=(), remove=(), src="note.j2", template="{{ tenant.name }} on {{ where }}:{{ tenant.ssh_port }}\n",
        *extra):
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates" / "note.j2").write_text(template)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "Write the notes",
        "gpulab.dgx.handoff_notes": {"dir": str(tmp_path / "notes"), "host": "dgx01", "notes": list(notes),
                                     "remove": list(remove), "src": src, "vars": {"where": "dgx01.lab"}},
        "register": "out"}, {"ansible.builtin.debug": {"var": "out"}}]}]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), str(tmp_path / "play.yml"),
                           "-i", "localhost,", "-c", "local"] + list(extra), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=env, timeout=120, check=False)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return result


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_written_once_with_safe_modes_and_kept_when_unchanged(tmp_path):
    notes = [tenant("alice", 2201), tenant("bob", 2202)]
    first = run(tmp_path, notes)
    assert first["changed"] is True and len(first["written"]) == 2, first
    assert mode(tmp_path / "notes") == 0o700
    alice = tmp_path / "notes" / "alice@dgx01.md"
    assert alice.read_text() == "alice on dgx01.lab:2201\n" and mode(alice) == 0o600
    again = run(tmp_path, notes)
    assert again["changed"] is False and again["unchanged"] == 2, again
    os.chmod(alice, 0o644)  # a note readable by others is written again, 0600
    fixed = run(tmp_path, notes)
    assert fixed["written"] == [str(alice)] and mode(alice) == 0o600
    moved = run(tmp_path, [tenant("alice", 2301), tenant("bob", 2202)])
    assert moved["written"] == [str(alice)] and "2301" in alice.read_text()


def test_a_new_template_reaches_every_note(tmp_path):
    notes = [tenant("t%d" % i, 2200 + i) for i in range(5)]
    run(tmp_path, notes)
    result = run(tmp_path, notes, template="ssh -p {{ tenant.ssh_port }} {{ tenant.login_user }}@{{ where }}\n")
    assert len(result["written"]) == 5
    assert (tmp_path / "notes" / "t3@dgx01.md").read_text() == "ssh -p 2203 root@dgx01.lab\n"


def test_check_mode_writes_nothing_and_diff_shows_the_text(tmp_path):
    result = run(tmp_path, [tenant("carol", 2203)], (), "note.j2", "{{ tenant.name }}\n", "--check", "--diff")
    assert result["changed"] is True and result["written"] == [str(tmp_path / "notes" / "carol@dgx01.md")]
    assert result["diff"][0]["after"] == "carol\n"
    assert not (tmp_path / "notes").exists()


def test_removal(tmp_path):
    run(tmp_path, [tenant("dave", 2204), tenant("erin", 2205)])
    result = run(tmp_path, remove=["dave", "nobody"])
    assert result["removed"] == [str(tmp_path / "notes" / "dave@dgx01.md")] and result["changed"] is True
    assert sorted(os.listdir(tmp_path / "notes")) == ["erin@dgx01.md"]
    assert run(tmp_path, remove=["dave"])["changed"] is False


def test_bad_names_and_templates_fail_before_anything_is_written(tmp_path):
    for name in ("../evil", "a/b", ".hidden", "", "x\ny"):
        result = run(tmp_path, [tenant("ok", 2200), tenant(name, 2201)])
        assert result["failed"] is True and "notes[].name" in result["msg"], result
        assert not (tmp_path / "notes").exists()
    broken = run(tmp_path, [tenant("ok", 2200)], (), "note.j2", "{{ tenant.no_such_key }}\n")
    assert broken["failed"] is True and "tenant ok" in broken["msg"] and not (tmp_path / "notes").exists(), broken
    sandboxed = run(tmp_path, [tenant("ok", 2200)], (), "note.j2", "{{ ''.__class__.__mro__ }}\n")
    assert sandboxed["failed"] is True and not (tmp_path / "notes").exists(), sandboxed
