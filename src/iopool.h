/* A pool of threads for blocking work (fsync, rename, writes of upload
 * data), so the event loops never wait on the disk. A job runs on a pool
 * thread and is then posted back to its loop (ev_post). */
#ifndef MTHTTPD_IOPOOL_H
#define MTHTTPD_IOPOOL_H

#include "ev.h"

/* Starts n threads. Returns 0 or -errno. */
int iopool_start(int n);

/* Lets the threads finish the queued jobs, then joins them. */
void iopool_stop(void);

/* Queues job: job->run(job) on a pool thread, then job->done(job) on
 * job->loop's thread. The caller keeps job alive until done runs. */
void iopool_submit(struct ev_job *job);

#endif
