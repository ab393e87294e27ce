/* filter.c - include/exclude filters on entity ids (HA's entityfilter rules). */
#include "filter.h"

#include <fnmatch.h>
#include <string.h>

int filter_init(filter *f, const char *include_domains, const char *include_entities,
                const char *include_globs, const char *exclude_domains,
                const char *exclude_entities, const char *exclude_globs)
{
    memset(f, 0, sizeof(*f));
    if (strlist_split(&f->include_domains, include_domains) != 0 ||
        strlist_split(&f->include_entities, include_entities) != 0 ||
        strlist_split(&f->include_globs, include_globs) != 0 ||
        strlist_split(&f->exclude_domains, exclude_domains) != 0 ||
        strlist_split(&f->exclude_entities, exclude_entities) != 0 ||
        strlist_split(&f->exclude_globs, exclude_globs) != 0) {
        filter_fini(f);
        return -1;
    }
    return 0;
}

void filter_fini(filter *f)
{
    strlist_fini(&f->include_domains);
    strlist_fini(&f->include_entities);
    strlist_fini(&f->include_globs);
    strlist_fini(&f->exclude_domains);
    strlist_fini(&f->exclude_entities);
    strlist_fini(&f->exclude_globs);
}

bool filter_is_empty(const filter *f)
{
    return f->include_domains.n == 0 && f->include_entities.n == 0 &&
           f->include_globs.n == 0 && f->exclude_domains.n == 0 &&
           f->exclude_entities.n == 0 && f->exclude_globs.n == 0;
}

/* Python's fnmatch has no escape character: FNM_NOESCAPE matches that. */
static bool glob_any(const strlist *globs, const char *entity_id)
{
    for (size_t i = 0; i < globs->n; i++) {
        if (fnmatch(globs->items[i], entity_id, FNM_NOESCAPE) == 0)
            return true;
    }
    return false;
}

/* The domain of entity_id: the text before its first '.', or all of it. */
static bool domain_in(const strlist *domains, const char *entity_id)
{
    size_t len = strcspn(entity_id, ".");
    for (size_t i = 0; i < domains->n; i++) {
        if (strlen(domains->items[i]) == len &&
            memcmp(domains->items[i], entity_id, len) == 0)
            return true;
    }
    return false;
}

bool filter_match(const filter *f, const char *entity_id)
{
    bool have_include =
        f->include_domains.n > 0 || f->include_entities.n > 0 || f->include_globs.n > 0;
    bool have_exclude =
        f->exclude_domains.n > 0 || f->exclude_entities.n > 0 || f->exclude_globs.n > 0;
    if (entity_id == NULL || (!have_include && !have_exclude))
        return true;
    if (!have_exclude) {
        return strlist_has(&f->include_entities, entity_id) ||
               domain_in(&f->include_domains, entity_id) ||
               glob_any(&f->include_globs, entity_id);
    }
    if (!have_include) {
        return !(strlist_has(&f->exclude_entities, entity_id) ||
                 domain_in(&f->exclude_domains, entity_id) ||
                 glob_any(&f->exclude_globs, entity_id));
    }
    if (f->include_domains.n > 0 || f->include_globs.n > 0) {
        if (strlist_has(&f->include_entities, entity_id))
            return true;
        if (strlist_has(&f->exclude_entities, entity_id))
            return false;
        if (glob_any(&f->include_globs, entity_id))
            return true;
        return domain_in(&f->include_domains, entity_id) &&
               !glob_any(&f->exclude_globs, entity_id);
    }
    if (f->exclude_domains.n > 0 || f->exclude_globs.n > 0) {
        if (domain_in(&f->exclude_domains, entity_id) ||
            glob_any(&f->exclude_globs, entity_id))
            return strlist_has(&f->include_entities, entity_id);
        return !strlist_has(&f->exclude_entities, entity_id);
    }
    return strlist_has(&f->include_entities, entity_id);
}
