// The C half of LoopTraceAuto: the load-time constructor, the main-executable check and the
// signal relay. Swift cannot run code at load time or be called from a signal handler.
#ifndef CLOOPTRACE_AUTO_H
#define CLOOPTRACE_AUTO_H

/// Writes one status line to the handshake descriptor (LOOPTRACE_AUTO_STATUS_FD), if any, and
/// closes it so that the program's children do not inherit it.
void lt_auto_report(const char *line);

/// Makes SIGINT and SIGTERM (where their disposition is still the default) finish the trace and
/// then end the process by the same signal: the handler wakes a relay thread, which calls
/// looptrace_auto_finish_for_signal; if that has not re-raised within two seconds (a loop
/// blocked in a step), the relay re-raises itself. A second signal re-raises at once.
void lt_auto_install_signal_relay(void);

/// Restores the default disposition of `signal` and raises it.
void lt_auto_reraise(int signal);

#endif
