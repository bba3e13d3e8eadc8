"""The man page, written from the commands' own help texts: `python -m reminderd.manpage >
man/reminderd.1`. A test checks that the committed page is what this makes now, so the two
cannot drift. Not imported by the command line.
"""

from __future__ import annotations

import re

import click

from reminderd import __version__

# What `man` readers look for after the commands; the README's exit-code table is the long form
# (a test checks that both list the same codes).
EXIT_STATUS = (
    (0, "success"),
    (1, "unexpected error"),
    (2, "a bad command-line value (the message names it)"),
    (69, "notify-test: a channel did not deliver; sync-calendar: the calendar server cannot be reached; "
         "account: nothing could be read from the account"),
    (73, "an output file or folder cannot be written; init found a config already; a changed service file; "
         "Claude Code settings install-hook must not change"),
    (74, "the state file cannot be read or written"),
    (75, "another reminderd run is already running"),
    (77, "sync-calendar: the calendar server refused the user name or password; account: the Claude login is "
         "missing, expired or refused"),
    (78, "the config file is missing or invalid, or needs an optional extra that is not installed"),
    (130, "interrupted (Ctrl-C)"),
    (141, "the output pipe closed early"),
)
COMPLETION = ('eval "$(_REMINDERD_COMPLETE=bash_source reminderd)"    # ~/.bashrc',
              'eval "$(_REMINDERD_COMPLETE=zsh_source reminderd)"     # ~/.zshrc',
              "_REMINDERD_COMPLETE=fish_source reminderd | source    # ~/.config/fish/completions/reminderd.fish")
ENVIRONMENT = (
    ("REMINDERD_CONFIG", "the config file, as --config"),
    ("REMINDERD_STATE_DIR", "the state directory (delivered reminders, readings, usage ledger)"),
    ("CLAUDE_CONFIG_DIR", "where Claude Code keeps its logs (comma-separated), for `usage`"),
    ("NO_COLOR", "plain bars in `usage`, even on a terminal"),
)


def escape(text: str) -> str:
    """Text as roff reads it literally: backslashes, hyphens and a leading dot or quote."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def _paragraphs(help_text: str) -> list[str]:
    """click's help text as roff paragraphs; a block after a \\b line keeps its lines."""
    out = []
    for block in re.split(r"\n\s*\n", help_text.strip()):
        lines = block.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append(".PP\n.nf\n" + "\n".join(escape(line.rstrip()) for line in lines[1:]) + "\n.fi")
        else:
            out.append(".PP\n" + escape(" ".join(line.strip() for line in lines)))
    return out


def _options(command: click.Command, ctx: click.Context) -> list[str]:
    out = []
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
        if record is None:
            continue
        names, help_text = record
        out.append(f".TP\n\\fB{escape(names)}\\fR\n{escape(help_text)}")
    return out


def manpage() -> str:
    from reminderd.cli import main as group

    root = click.Context(group, info_name="reminderd", **group.context_settings)
    summary = (group.help or "").strip().splitlines()[0].rstrip(".")
    lines = [f'.TH REMINDERD 1 "" "reminderd {__version__}" "User Commands"',
             ".SH NAME", f"reminderd \\- {escape(summary[:1].lower() + summary[1:])}",
             ".SH SYNOPSIS", ".B reminderd", "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
             ".SH DESCRIPTION", *_paragraphs(group.help or ""),
             ".SH OPTIONS", *_options(group, root), ".SH COMMANDS"]
    for name in sorted(group.commands):
        command = group.commands[name]
        ctx = click.Context(command, info_name=name, parent=root, **command.context_settings)
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines += [f".SS reminderd {escape(name)}", f".B reminderd {escape(name)}", escape(usage),
                  *_paragraphs(command.help or ""), *_options(command, ctx)]
    lines += [".SH SHELL COMPLETION", "click's own: add one line to your shell's start-up file.", ".PP", ".nf",
              *(escape(line) for line in COMPLETION), ".fi"]
    lines.append(".SH EXIT STATUS")
    lines += [f".TP\n.B {code}\n{escape(meaning)}" for code, meaning in EXIT_STATUS]
    lines.append(".SH ENVIRONMENT")
    lines += [f".TP\n.B {name}\n{escape(meaning)}" for name, meaning in ENVIRONMENT]
    lines += [".SH SEE ALSO", "The README of the reminderd project: every setting, the rules reminderd counts by, "
              "and the JSON documents of status, usage, offers and account."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    click.echo(manpage(), nl=False)
