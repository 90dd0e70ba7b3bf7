/* systemd's readiness protocol, spoken directly: datagrams to $NOTIFY_SOCKET
 * (sd_notify(3)), without libsystemd. */
#ifndef MTHTTPD_SDNOTIFY_H
#define MTHTTPD_SDNOTIFY_H

/* Reads $NOTIFY_SOCKET (an absolute path, or '@' for an abstract name) and
 * connects a datagram socket to it, so later messages need no permission
 * on the socket's file (the server may have dropped privileges by then).
 * Returns 1 when connected, 0 when $NOTIFY_SOCKET is unset (every later
 * call is then a no-op), -errno on a bad value or a failed connect. */
int sdnotify_init(void);

/* Sends one message, e.g. "READY=1\nSTATUS=listening on ...". Returns 0 (also
 * when there is no notify socket) or -errno. */
int sdnotify_send(const char *msg);

/* Sends "RELOADING=1" with MONOTONIC_USEC= set to now (CLOCK_MONOTONIC), as
 * Type=notify-reload expects. Returns as sdnotify_send. */
int sdnotify_reloading(void);

#endif
