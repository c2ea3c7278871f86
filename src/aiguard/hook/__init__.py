"""The commit hook: the hook commands (run), the stamp it writes (stamp), `aiguard install`
(install), and the daemon's warm hook server with its lean client (server, client). Its import
path stays standard-library only; the shell scripts it installs are in hooks/ at the repository
root (shipped as aiguard/_hooks)."""
