"""What the user records can be seen and taken back: claims, readings, acknowledgements."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from conftest import ROOT

EXAMPLE = str(ROOT / "config.example.toml")
Cli = Callable[..., Result]


def _starter(tmp_path: Path, cli: Cli) -> Path:
    path = tmp_path / "config.toml"
    assert cli("--config", str(path), "init", env={"TZ": "UTC"}).exit_code == 0
    return path


def test_claim_goes_where_init_left_its_placeholder(cli: Cli, tmp_path: Path) -> None:
    # review m3: it went under the [credit.usage] comment block instead
    path = _starter(tmp_path, cli)
    before = path.read_text()
    assert "\n# claimed_at = 2026-02-06T09:30:00\n" in before
    assert cli("--config", str(path), "claim", "--at", "2026-02-06 09:30").exit_code == 0
    assert path.read_text() == before.replace("\n# claimed_at = 2026-02-06T09:30:00\n",
                                              "\nclaimed_at = 2026-02-06T09:30:00Z\n")


def test_a_second_claim_names_what_it_replaced_and_undo_puts_it_back(cli: Cli, tmp_path: Path,
                                                                       state_dir: Path) -> None:
    # newuser 8: a second claim silently replaced the first
    path = _starter(tmp_path, cli)
    before = path.read_text()
    assert cli("--config", str(path), "claim", "--at", "2026-02-20").exit_code == 0
    second = cli("--config", str(path), "claim", "--at", "2026-02-07")
    assert second.exit_code == 0
    assert second.stdout.startswith(f"Replaced the claim of claude-feb-2026 at Fri 2026-02-20 00:00 UTC with "
                                    f"Sat 2026-02-07 00:00 UTC in {path}")
    state = json.loads((state_dir / "state.json").read_text())
    assert state["replaced_claims"]["claude-feb-2026"][-1]["claimed_at"] == "2026-02-20T00:00:00+00:00"
    undo = cli("--config", str(path), "claim", "--undo")
    assert undo.stdout == (f"Restored the claim of claude-feb-2026 at Fri 2026-02-20 00:00 UTC in {path} "
                           "(it replaces Sat 2026-02-07 00:00 UTC).\n")
    assert "claimed_at = 2026-02-20T00:00:00Z" in path.read_text()
    assert cli("--config", str(path), "claim", "--undo").stdout.startswith("Took back the claim of claude-feb-2026")
    assert path.read_text() == before.replace("# claimed_at = 2026-02-06T09:30:00",
                                              "# claimed_at = 2026-02-20T00:00:00Z")  # a placeholder again
    assert cli("--config", str(path), "claim", "--undo").stdout.startswith("Nothing to take back")


def test_undo_refuses_when_the_config_was_edited_since(cli: Cli, tmp_path: Path) -> None:
    path = _starter(tmp_path, cli)
    assert cli("--config", str(path), "claim", "--at", "2026-02-07").exit_code == 0
    path.write_text(path.read_text().replace("claimed_at = 2026-02-07T00:00:00Z", "claimed_at = 2026-02-08T00:00:00Z"))
    result = cli("--config", str(path), "claim", "--undo")
    assert result.exit_code == 2 and "not the Sat 2026-02-07 00:00 UTC that `reminderd claim` wrote" in result.stderr
    assert "claimed_at = 2026-02-08T00:00:00Z" in path.read_text()


def test_claim_explains_an_expiry_at_another_time_of_day(cli: Cli, tmp_path: Path) -> None:
    # newuser: a UTC user's 09:30 claim "expires 08:30" without a word why
    path = _starter(tmp_path, cli)
    result = cli("--config", str(path), "claim", "--at", "2026-02-06 09:30")
    assert "It expires Tue 2026-04-07 08:30 UTC.\n(Not the claim's time of day: 60 days are counted on the early " \
           "side" in result.stdout
    path.write_text(path.read_text().replace('timezone = "UTC"', 'timezone = "America/Los_Angeles"'))
    same = cli("--config", str(path), "claim", "--at", "2026-02-06 09:30")  # in Pacific time: the same wall time
    assert "It expires Tue 2026-04-07 09:30 PDT.\n" in same.stdout and "Not the claim's" not in same.stdout


def test_done_undo_with_nothing_to_take_back_says_so(cli: Cli) -> None:
    assert cli("--config", EXAMPLE, "done", "extra-usage-off", "--at", "2026-03-01T08:00").exit_code == 0
    first = cli("--config", EXAMPLE, "done", "extra-usage-off", "--undo")
    assert first.stdout.startswith("Took back extra-usage-off for claude-feb-2026 (recorded Sun 2026-03-01 08:00 PST)")
    second = cli("--config", EXAMPLE, "done", "extra-usage-off", "--undo")
    assert second.exit_code == 0
    assert second.stdout == "Nothing to take back: extra-usage-off is not recorded for claude-feb-2026.\n"


def test_readings_are_listed_with_their_source_and_a_typo_is_taken_back(cli: Cli, state_dir: Path) -> None:
    # newuser 3: a mistyped balance could not be taken back, and skewed the forecast
    def status() -> dict:  # type: ignore[type-arg]
        return json.loads(cli("--config", EXAMPLE, "status", "--json", "--at", "2026-02-21T12:00").stdout)
    assert cli("--config", EXAMPLE, "balance", "40", "--at", "2026-02-16T10:00").exit_code == 0
    assert cli("--config", EXAMPLE, "balance", "30", "--at", "2026-02-20T10:00").exit_code == 0
    good = status()["credits"][0]["forecast"]
    assert cli("--config", EXAMPLE, "balance", "3", "--at", "2026-02-20T10:01").exit_code == 0  # meant 30
    bad = status()["credits"][0]["forecast"]
    assert bad != good
    listing = cli("--config", EXAMPLE, "balance", "--list")
    assert listing.stdout == ("Balance readings for claude-feb-2026, oldest first:\n"
                              "  Mon 2026-02-16 10:00 PST  USD     40.00  manual\n"
                              "  Fri 2026-02-20 10:00 PST  USD     30.00  manual\n"
                              "  Fri 2026-02-20 10:01 PST  USD      3.00  manual\n")
    data = json.loads(cli("--config", EXAMPLE, "balance", "--list", "--json").stdout)
    assert data["readings"][-1] == {"at": "2026-02-20T10:01:00-08:00", "remaining_usd": 3.0, "source": "manual"}
    undo = cli("--config", EXAMPLE, "balance", "--undo")
    assert undo.stdout.startswith("Removed the reading of USD 3.00 for claude-feb-2026 at Fri 2026-02-20 10:01 PST "
                                  "(manual)")
    assert status()["credits"][0]["forecast"] == good  # the forecast follows
    by_time = cli("--config", EXAMPLE, "balance", "--undo", "--at", "2026-02-16 10:00")
    assert "USD 40.00" in by_time.stdout
    assert [o["remaining_usd"] for o in json.loads((state_dir / "state.json").read_text())["observations"][
        "claude-feb-2026"]] == [30.0]
    missing = cli("--config", EXAMPLE, "balance", "--undo", "--at", "2026-02-18 10:00")
    assert missing.exit_code == 2 and "no reading then; `reminderd balance --list` shows them" in missing.stderr


def test_a_state_file_without_sources_reads_as_manual(cli: Cli, state_dir: Path) -> None:
    state_dir.mkdir()
    (state_dir / "state.json").write_text(json.dumps({"version": 2, "observations": {"claude-feb-2026": [
        {"at": "2026-02-20T18:00:00+00:00", "remaining_usd": 30.0},
        {"at": "2026-02-21T18:00:00+00:00", "remaining_usd": 29.0, "source": "account"}]}}))
    data = json.loads(cli("--config", EXAMPLE, "balance", "--list", "--json").stdout)
    assert [r["source"] for r in data["readings"]] == ["manual", "account"]
    cli("--config", EXAMPLE, "balance", "28", "--at", "2026-02-22T10:00")
    saved = json.loads((state_dir / "state.json").read_text())["observations"]["claude-feb-2026"]
    assert [r.get("source") for r in saved] == [None, "account", None]  # manual is the default, not written


def test_undo_puts_back_a_date_as_a_date(cli: Cli, write_config: Callable[[str], Path]) -> None:
    # a claim given as a date counts as claimed that day (its window rule is lenient): it stays a date
    path = write_config('timezone = "America/Los_Angeles"\n[[credit]]\nplan = "pro"\nclaimed_at = 2026-02-05\n')
    assert cli("--config", str(path), "claim", "--at", "2026-02-06 09:30").exit_code == 0
    assert "claimed_at = 2026-02-06T09:30:00-08:00\n" in path.read_text()
    assert cli("--config", str(path), "claim", "--undo").exit_code == 0
    assert path.read_text().endswith("claimed_at = 2026-02-05\n")


def test_claiming_now_twice_can_be_undone(cli: Cli, write_config: Callable[[str], Path]) -> None:
    # the config keeps whole seconds: what the state remembers must be what the config says
    path = write_config('timezone = "UTC"\n[[credit]]\nplan = "pro"\n')
    assert cli("--config", str(path), "claim").exit_code == 0
    assert cli("--config", str(path), "claim", "--at", "2026-02-07").exit_code == 0
    undo = cli("--config", str(path), "claim", "--undo")
    assert undo.exit_code == 0 and undo.stdout.startswith("Restored the claim"), undo.stderr
