"""The command line: click commands over the layers below (app), and the commands that look
across all of them (doctor, attribute)."""
