/* fuzz-config.c - libFuzzer target: hs_cfg_load (shared/hs_config.h) with an
 * injected getenv over arbitrary values, on a table that has every type,
 * ranges and none, defaults and none, and the secret, runtime and required
 * flags.
 *
 * The input is split at '\n' into values, handed to the table's variables in
 * order (then to TOKEN_FILE, whose value becomes the content of a temporary
 * file); a value of the single byte 0x01, or a missing one, is unset.
 * Properties: a load either fails with a message that starts with the name of
 * one of the variables and never shows a secret, or fills every field within
 * its contract (integers and numbers in range and finite, enums among their
 * choices, URLs with an allowed scheme and no blanks, lists trimmed without
 * empty items, required values non-empty, strings as given). The effective
 * configuration renders as JSON with every secret masked exactly as
 * hs_cfg_mask says; hs_cfg_set accepts runtime variables only when asked
 * to and keeps the contract; help and
 * Markdown print; hs_cfg_free clears every string. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "hs_config.h"

typedef struct {
    char *s, *req, *e, *u, *u2, *l, *lreq, *tok, *tok2;
    int64_t i, i2;
    double d, d2;
    bool b;
} cfg_t;

static const hs_cfg_var vars[] = {
    {"S", HS_CFG_STR, "plain", 0, -1, NULL, 0, offsetof(cfg_t, s), "A string."},
    {"REQ", HS_CFG_STR, "home", 0, -1, NULL, HS_CFG_REQUIRED, offsetof(cfg_t, req),
     "Required."},
    {"I", HS_CFG_INT, "5", -5, 1000, NULL, HS_CFG_RUNTIME, offsetof(cfg_t, i),
     "An integer."},
    {"I2", HS_CFG_INT, NULL, 0, -1, NULL, 0, offsetof(cfg_t, i2), "Any integer."},
    {"D", HS_CFG_DOUBLE, "0.5", 0, 1, NULL, HS_CFG_RUNTIME, offsetof(cfg_t, d),
     "A ratio."},
    {"D2", HS_CFG_DOUBLE, NULL, 0, -1, NULL, 0, offsetof(cfg_t, d2), "Any number."},
    {"B", HS_CFG_BOOL, "false", 0, -1, NULL, HS_CFG_RUNTIME, offsetof(cfg_t, b),
     "A flag."},
    {"E", HS_CFG_ENUM, "info", 0, -1, "debug|info|warn|error", HS_CFG_RUNTIME,
     offsetof(cfg_t, e), "A level."},
    {"U", HS_CFG_URL, "http://127.0.0.1:8086", 0, -1, "http://|https://", 0,
     offsetof(cfg_t, u), "A URL."},
    {"U2", HS_CFG_URL, NULL, 0, -1, NULL, 0, offsetof(cfg_t, u2), "Any URL."},
    {"L", HS_CFG_LIST, NULL, 0, -1, NULL, HS_CFG_RUNTIME, offsetof(cfg_t, l), "A list."},
    {"LREQ", HS_CFG_LIST, "a,b", 0, -1, NULL, HS_CFG_REQUIRED, offsetof(cfg_t, lreq),
     "Items."},
    {"TOKEN", HS_CFG_STR, NULL, 0, -1, NULL, HS_CFG_SECRET, offsetof(cfg_t, tok),
     "A secret."},
    {"TOKEN2", HS_CFG_STR, "default-secret-value", 0, -1, NULL,
     HS_CFG_SECRET | HS_CFG_REQUIRED, offsetof(cfg_t, tok2), "A required secret."},
};
#define NVARS (sizeof vars / sizeof vars[0])

typedef struct {
    char *values[NVARS + 1]; /* the last one is TOKEN_FILE's content */
    char *file;              /* path of the temporary TOKEN_FILE, or NULL */
} env_t;

static const char *fake_getenv(const char *name, void *ud)
{
    env_t *env = ud;
    if (strcmp(name, "TOKEN_FILE") == 0)
        return env->file;
    for (size_t i = 0; i < NVARS; i++)
        if (strcmp(vars[i].name, name) == 0)
            return env->values[i];
    return NULL;
}

static bool in_list(const char *choices, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = choices;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, w, n) == 0)
            return true;
        if (!bar)
            return false;
        p = bar + 1;
    }
}

/* The contract every stored value keeps. */
static void check_field(const cfg_t *c, const hs_cfg_var *v)
{
    const void *f = (const char *)c + v->offset;
    switch (v->type) {
    case HS_CFG_INT: {
        int64_t x = *(const int64_t *)f;
        if (v->min <= v->max)
            FUZZ_CHECK(x >= v->min && x <= v->max, "%s = %lld out of range", v->name,
                       (long long)x);
        break;
    }
    case HS_CFG_DOUBLE: {
        double x = *(const double *)f;
        FUZZ_CHECK(isfinite(x), "%s = %g", v->name, x);
        if (v->min <= v->max)
            FUZZ_CHECK(x >= v->min && x <= v->max, "%s = %g out of range", v->name, x);
        break;
    }
    case HS_CFG_BOOL:
        break;
    default: {
        const char *s = *(char *const *)f;
        if (v->flags & HS_CFG_REQUIRED)
            FUZZ_CHECK(s != NULL && s[0] != '\0', "required %s is empty", v->name);
        if (s == NULL)
            break;
        if (v->type == HS_CFG_ENUM)
            FUZZ_CHECK(in_list(v->choices, s), "%s = '%s' is no choice", v->name, s);
        if (v->type == HS_CFG_URL) {
            for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                FUZZ_CHECK(*p > ' ' && *p != 0x7f, "%s has a blank", v->name);
            if (v->choices != NULL)
                FUZZ_CHECK(strncasecmp(s, "http://", 7) == 0 ||
                               strncasecmp(s, "https://", 8) == 0,
                           "%s = '%s' has another scheme", v->name, s);
            else
                FUZZ_CHECK(strstr(s, "://") != NULL && strstr(s, "://") != s, "%s = '%s'",
                           v->name, s);
        }
        if (v->type == HS_CFG_LIST && s[0] != '\0') {
            for (const char *p = s;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t)(comma - p) : strlen(p);
                FUZZ_CHECK(len > 0, "%s = '%s' has an empty item", v->name, s);
                FUZZ_CHECK(p[0] != ' ' && p[0] != '\t' && p[len - 1] != ' ' &&
                               p[len - 1] != '\t',
                           "%s = '%s' is not trimmed", v->name, s);
                if (!comma)
                    break;
                p = comma + 1;
            }
        }
        break;
    }
    }
}

static bool names_a_variable(const char *err)
{
    for (size_t i = 0; i < NVARS; i++) {
        size_t n = strlen(vars[i].name);
        if (strncmp(err, vars[i].name, n) == 0 &&
            (err[n] == ':' || strncmp(err + n, "_FILE:", 6) == 0))
            return true;
    }
    return false;
}

/* A message about a secret variable never shows its value (checked for
 * values that the fixed text of a message cannot contain by chance). */
static void check_not_shown(const char *err, const char *secret)
{
    if (strncmp(err, "TOKEN", 5) != 0 || secret == NULL || strlen(secret) < 12 ||
        strpbrk(secret, " /'") != NULL)
        return;
    FUZZ_CHECK(strstr(err, secret) == NULL, "message shows a secret: %s", err);
}

static void check_json(const cfg_t *c)
{
    json_t *j = hs_cfg_to_json(vars, NVARS, c);
    FUZZ_CHECK(j != NULL, "the effective configuration does not render as JSON");
    for (size_t i = 0; i < NVARS; i++) {
        const hs_cfg_var *v = &vars[i];
        const json_t *x = json_object_get(j, v->name);
        FUZZ_CHECK(x != NULL, "%s missing from /config", v->name);
        if (!(v->flags & HS_CFG_SECRET))
            continue;
        const char *s = *(char *const *)((const char *)c + v->offset);
        if (s == NULL || s[0] == '\0')
            continue;
        char *m = hs_cfg_mask(s);
        FUZZ_CHECK(m != NULL && strncmp(m, "****", 4) == 0, "mask of %s", v->name);
        const char *shown = json_string_value(x);
        FUZZ_CHECK(shown != NULL, "%s not a string", v->name);
        /* Shown as is only when that reveals no more than the mask would: a
         * secret that is itself "****" and at most 4 characters. */
        FUZZ_CHECK(strlen(s) <= 4 || strcmp(shown, s) != 0 || strncmp(s, "****", 4) == 0,
                   "%s shown in clear", v->name);
        FUZZ_CHECK(strlen(shown) <= 4 + 16, "%s shows %zu bytes", v->name, strlen(shown));
        free(m);
    }
    char *text = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(text != NULL, "configuration JSON does not serialise");
    free(text);
    json_decref(j);
}

static void check_mask(const char *s)
{
    char *m = hs_cfg_mask(s);
    FUZZ_CHECK(m != NULL && strncmp(m, "****", 4) == 0, "mask does not start with ****");
    size_t ml = strlen(m) - 4, sl = strlen(s);
    FUZZ_CHECK(ml <= sl && strcmp(m + 4, s + sl - ml) == 0, "mask tail is not a suffix");
    size_t chars = 0;
    for (size_t i = 4; m[i] != '\0'; i++)
        chars += ((unsigned char)m[i] & 0xc0) != 0x80;
    FUZZ_CHECK(chars <= 4, "mask shows %zu characters", chars);
    free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    env_t env;
    memset(&env, 0, sizeof env);
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= size && k < NVARS + 1; i++) {
        if (i < size && data[i] != '\n')
            continue;
        size_t n = i - start;
        char *v = malloc(n + 1);
        FUZZ_CHECK(v != NULL, "out of memory");
        memcpy(v, data + start, n);
        v[n] = '\0';
        if (n == 1 && v[0] == '\x01') {
            free(v);
            v = NULL;
        }
        env.values[k++] = v;
        start = i + 1;
    }
    if (env.values[NVARS] != NULL) {
        char path[] = "/tmp/hs-fuzz-config-XXXXXX";
        int fd = mkstemp(path);
        FUZZ_CHECK(fd >= 0, "mkstemp");
        size_t n = strlen(env.values[NVARS]);
        FUZZ_CHECK(write(fd, env.values[NVARS], n) == (ssize_t)n, "write");
        close(fd);
        env.file = strdup(path);
    }

    cfg_t c;
    memset(&c, 0, sizeof c);
    char err[512] = "";
    int rc = hs_cfg_load(vars, NVARS, &c, fake_getenv, &env, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == -1, "rc %d", rc);
        FUZZ_CHECK(names_a_variable(err), "message does not name the variable: %s", err);
        check_not_shown(err, env.values[12]);
        check_not_shown(err, env.values[13]);
        check_not_shown(err, env.values[NVARS]);
    } else {
        for (size_t i = 0; i < NVARS; i++)
            check_field(&c, &vars[i]);
        if (env.values[0] != NULL)
            FUZZ_CHECK(strcmp(c.s, env.values[0]) == 0, "S changed");
        check_json(&c);
        /* Changes at run time, with every value of the input. */
        for (size_t i = 0; i < NVARS; i++) {
            const hs_cfg_var *v = &vars[i];
            for (size_t x = 0; x < NVARS + 1; x++) {
                char e2[512] = "";
                int r = hs_cfg_set(vars, NVARS, &c, v->name, env.values[x], true, e2,
                                   sizeof e2);
                if (!(v->flags & HS_CFG_RUNTIME))
                    FUZZ_CHECK(r == -1, "%s changed at run time", v->name);
                if (r != 0)
                    FUZZ_CHECK(e2[0] != '\0', "refused without a reason");
                check_field(&c, v);
            }
        }
        check_json(&c);
    }
    for (size_t i = 0; i < NVARS + 1; i++)
        if (env.values[i] != NULL && env.values[i][0] != '\0')
            check_mask(env.values[i]);
    FILE *null = fopen("/dev/null", "w");
    if (null != NULL) {
        hs_cfg_print_help(null, "fuzz", "Summary.", vars, NVARS);
        hs_cfg_print_markdown(null, vars, NVARS);
        fclose(null);
    }
    hs_cfg_free(vars, NVARS, &c);
    FUZZ_CHECK(c.s == NULL && c.req == NULL && c.u == NULL && c.l == NULL &&
                   c.tok == NULL && c.tok2 == NULL && c.e == NULL && c.u2 == NULL &&
                   c.lreq == NULL,
               "hs_cfg_free left a string");
    if (env.file != NULL) {
        unlink(env.file);
        free(env.file);
    }
    for (size_t i = 0; i < NVARS + 1; i++)
        free(env.values[i]);
    return 0;
}
