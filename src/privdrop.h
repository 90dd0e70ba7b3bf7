/* --user NAME[:GROUP]: who the server becomes once it holds what needs root
 * (the listening socket, the root, the uploads directory, the logs). */
#ifndef MTHTTPD_PRIVDROP_H
#define MTHTTPD_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privdrop {
	bool set;            /* --user was given */
	uid_t uid;
	gid_t gid;
	char name[64];       /* the user's name, for messages */
	gid_t *groups;       /* supplementary groups of the user, with gid */
	int ngroups;
};

/* Looks up spec "NAME" or "NAME:GROUP" (the user's primary group when no
 * GROUP is given) and the user's supplementary groups. Returns 0, or -1
 * with a one-line reason in err (unknown user or group). Owns p->groups. */
int privdrop_lookup(struct privdrop *p, const char *spec, char *err, size_t cap);

/* faccessat(dirfd, path, mode, AT_EACCESS) checked as the --user the
 * server will become (its effective ids are switched for the call and
 * restored), or as the process itself when p is not set or the process is
 * not root. Returns 0 or -errno; -EPERM also when the switch back fails. */
int privdrop_access(const struct privdrop *p, int dirfd, const char *path, int mode);

/* Becomes p's user for good: setgroups, setgid, setuid, then checks that
 * every id changed and that setuid(0) now fails. Returns 0, or -1 with a
 * one-line reason in err. */
int privdrop_apply(const struct privdrop *p, char *err, size_t cap);

#endif
