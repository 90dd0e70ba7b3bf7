/* The blocking-I/O pool: one queue, a condition variable, n threads. */
#include "iopool.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

#define POOL_STACK (128 * 1024)
#define POOL_MAX 1024

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cond = PTHREAD_COND_INITIALIZER;
static struct ev_job *queue_head, *queue_tail;
static bool pool_stopping;
static pthread_t pool_tids[POOL_MAX];
static int pool_n;

static void *pool_main(void *arg)
{
	(void)arg;
	log_set_thread("io");
	/* The event loops come first when the CPU is short: a flush may wait,
	 * a GET should not. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		while (queue_head == NULL && !pool_stopping)
			pthread_cond_wait(&pool_cond, &pool_lock);
		if (queue_head == NULL)
			break;
		struct ev_job *j = queue_head;
		queue_head = j->next;
		if (queue_head == NULL)
			queue_tail = NULL;
		j->next = NULL;
		pthread_mutex_unlock(&pool_lock);
		j->run(j);
		ev_post(j);
		pthread_mutex_lock(&pool_lock);
	}
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

int iopool_start(int n)
{
	if (n > POOL_MAX)
		n = POOL_MAX;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, POOL_STACK);
	for (pool_n = 0; pool_n < n; pool_n++) {
		int rc = pthread_create(&pool_tids[pool_n], &attr, pool_main, NULL);
		if (rc != 0) {
			pthread_attr_destroy(&attr);
			return -rc;
		}
	}
	pthread_attr_destroy(&attr);
	return 0;
}

void iopool_stop(void)
{
	pthread_mutex_lock(&pool_lock);
	pool_stopping = true;
	pthread_cond_broadcast(&pool_cond);
	pthread_mutex_unlock(&pool_lock);
	for (int i = 0; i < pool_n; i++)
		pthread_join(pool_tids[i], NULL);
	pool_n = 0;
}

void iopool_submit(struct ev_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&pool_lock);
	if (queue_tail)
		queue_tail->next = job;
	else
		queue_head = job;
	queue_tail = job;
	pthread_mutex_unlock(&pool_lock);
	/* Signalled after unlocking, so the woken thread does not at once
	 * block again on the mutex we hold. */
	pthread_cond_signal(&pool_cond);
}
