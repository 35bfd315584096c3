/* sigkeep.h: the signals an emperor upgrade keeps across its execve (reexec.cc blocks them,
 * sigkeep.c catches them in the new program until the emperor's own handlers are there).
 * Those the emperor handles whose default action ends a process; SIGCHLD and SIGURG, which
 * it handles too, are ignored by default and need no keeping. */
#ifndef JAIL_SIGKEEP_H
#define JAIL_SIGKEEP_H

#include <signal.h>

#define JAIL_SIGKEEP_SIGNALS { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2 }

#endif
