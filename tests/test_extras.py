"""How to add an optional extra, said the way reminderd was installed: one pure function."""

from __future__ import annotations

from reminderd.extras import install_command, is_pipx_venv


def test_under_pipx_it_is_pipx_inject() -> None:
    for prefix in ("/home/me/.local/share/pipx/venvs/reminderd", "/home/me/.local/pipx/venvs/reminderd",
                   "/opt/pipx/venvs/reminderd"):
        assert install_command("push", prefix, "/usr", f"{prefix}/bin/python") == "pipx inject reminderd apprise"
    assert install_command("caldav", "/home/me/.local/share/pipx/venvs/reminderd", "/usr", "x") == \
        "pipx inject reminderd caldav"


def test_pipx_with_a_home_that_does_not_say_so_is_known_by_its_metadata_file() -> None:
    prefix = "/srv/tools/venvs/reminderd"
    assert not is_pipx_venv(__import__("pathlib").PurePath(prefix))
    assert install_command("keyring", prefix, "/usr", f"{prefix}/bin/python", pipx_marker=True) == \
        "pipx inject reminderd keyring"


def test_in_a_venv_it_is_that_venvs_pip() -> None:
    assert install_command("push", "/home/me/.venvs/reminderd", "/usr", "/home/me/.venvs/reminderd/bin/python") == \
        "/home/me/.venvs/reminderd/bin/python -m pip install 'reminderd[push]'"
    # a venv that happens to sit in a "venvs" folder is not pipx's
    assert install_command("caldav", "/home/me/venvs/rd", "/usr", "/home/me/venvs/rd/bin/python") == \
        "/home/me/venvs/rd/bin/python -m pip install 'reminderd[caldav]'"
    assert install_command("push", "/tmp/my env", "/usr", "/tmp/my env/bin/python") == \
        "'/tmp/my env/bin/python' -m pip install 'reminderd[push]'"


def test_otherwise_plain_pip() -> None:
    assert install_command("caldav", "/usr", "/usr", "/usr/bin/python3") == "pip install 'reminderd[caldav]'"
