/*
 * buildtree.h — whether the running program was started from its build
 * tree (tests, development), so that it finds plugins and helper programs
 * there rather than in the installed locations.
 */
#ifndef TND_BUILDTREE_H
#define TND_BUILDTREE_H

/** The build tree this binary runs from, or NULL when it is installed. */
const char *daemon_build_dir(void);

#endif /* TND_BUILDTREE_H */
