from reminderd.cli import main

main(prog_name="reminderd")
