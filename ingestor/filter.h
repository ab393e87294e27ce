/* filter.h - include/exclude filters on entity ids, as Home Assistant's
 * entityfilter (homeassistant/helpers/entityfilter.py) decides (pure).
 *
 * Inputs: include/exclude lists of domains, entity ids and globs (fnmatch
 * style: '*' any run of characters, '?' one character, [abc] and [!abc]
 * sets; case-sensitive, matched against the whole entity id). Rules:
 *   1. Nothing configured: every entity passes.
 *   2. Only includes: passes when the entity is listed, its domain is
 *      listed, or it matches an include glob.
 *   3. Only excludes: passes unless the entity is listed, its domain is
 *      listed, or it matches an exclude glob.
 *   4. Both, and include domains or include globs exist: passes when the
 *      entity is included by id; otherwise, unless excluded by id, when it
 *      matches an include glob, or when its domain is included and it
 *      matches no exclude glob. (Exclude domains do not override an include
 *      glob or an include domain.)
 *   5. Both, includes are entity ids only, and exclude domains or exclude
 *      globs exist: an entity whose domain is excluded or that matches an
 *      exclude glob passes only when included by id; any other passes
 *      unless excluded by id.
 *   6. Both, entity ids only on both sides: passes only when included by id.
 * Events without an entity id (other event types) are not filtered. */
#ifndef INGESTOR_FILTER_H
#define INGESTOR_FILTER_H

#include <stdbool.h>

#include "strlist.h"

typedef struct {
    strlist include_domains, include_entities, include_globs;
    strlist exclude_domains, exclude_entities, exclude_globs;
} filter;

/* Comma-separated lists, each may be NULL or empty. Returns 0, or -1 when
 * out of memory (f is then empty and still needs filter_fini()). */
int filter_init(filter *f, const char *include_domains, const char *include_entities,
                const char *include_globs, const char *exclude_domains,
                const char *exclude_entities, const char *exclude_globs);
void filter_fini(filter *f);

/* true when the filter lets entity_id through. */
bool filter_match(const filter *f, const char *entity_id);

/* true when nothing is configured (every entity passes). */
bool filter_is_empty(const filter *f);

#endif
