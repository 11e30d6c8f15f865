# Helpers of the tests of the live dashboard, sourced by
# tests/integration/dashboard*.sh after lib.sh (or serve-lib.sh): a tmux
# server of the test's own (its socket named by the test's pid) that is
# killed when the test exits, after the cleanup already set.
#
# - tm ARGS...: tmux on that server.
# - dash_start COMMAND: a 120x40 window "dash" running COMMAND (then
#   sleep, so that the pane stays to be read after it quits), with
#   set-clipboard on (OSC 52 from the dashboard fills a tmux buffer).
# - screen: the window's text.
# - wait_screen TEXT: until the screen shows TEXT, at most 10 s; the last
#   screen goes to $T/screen.txt when it does not.
# - gone: until the dashboard process has exited, at most 5 s.

command -v tmux >/dev/null || skip "tmux is not installed"

DASH_SOCK=orc-dash-$$
DASH_TRAP=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap 'tmux -L "$DASH_SOCK" kill-server 2>/dev/null; '"${DASH_TRAP:-:}" EXIT

# tm ARGS...: see above.
tm() { tmux -L "$DASH_SOCK" "$@"; }

# dash_start COMMAND: see above.
dash_start() {
	tm new-session -d -s dash -x 120 -y 40 "$1; sleep 60" ||
	    hard_error "tmux cannot start"
	tm set-option -g set-clipboard on
}

# screen: see above.
screen() { tm capture-pane -p -t dash 2>/dev/null; }

# wait_screen TEXT: see above.
wait_screen() {
	local i
	for i in $(seq 100); do
		screen | grep -qF -- "$1" && return 0
		sleep 0.1
	done
	screen > "$T/screen.txt"
	return 1
}

# gone: see above.
gone() {
	local i
	for i in $(seq 50); do
		tm list-panes -t dash -F '#{pane_current_command}' |
		    grep -q orchestrator || return 0
		sleep 0.1
	done
	return 1
}
