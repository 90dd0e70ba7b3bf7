/* The listening socket, the worker threads (one event loop each) and the
 * blocking-I/O pool, and the accept path. */
#ifndef MTHTTPD_SERVER_H
#define MTHTTPD_SERVER_H

/* Takes the listening socket passed by socket activation (LISTEN_FDS), or
 * binds the one described by cfg. Either way cfg's port (and for a passed
 * socket its host) then say what it is bound to. Returns 0 or -errno. */
int server_listen(void);

/* How --threads is split: event loops never outnumber the CPUs this
 * process may run on (more only time-slice one CPU and add latency), and
 * the rest of the threads join the blocking-I/O pool. */
int server_loops(void);
int server_pool_threads(void);

/* Starts the workers and the I/O pool. Returns 0 or -errno. */
int server_start(void);

/* Stops accepting: from its return a new client is refused. Safe to call
 * more than once. */
void server_stop_listening(void);

/* Stops accepting (if not done yet), asks every worker to drain and stop,
 * and waits for them (at most ~10 s for in-flight requests). */
void server_stop(void);

#endif
