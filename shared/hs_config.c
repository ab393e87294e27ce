/* hs_config.c - daemon configuration from a table of environment variables.
 *
 * Every value, defaults included, goes through parse_value(), so a default
 * that would not pass validation fails loudly at start. Empty values: for
 * STR, LIST and secrets an empty value is a value (ADMIN_ADDR= disables the
 * admin endpoint); for INT, DOUBLE, BOOL, ENUM and URL it selects the
 * default, so that docker compose's `${NAME:-}` leaves a setting alone.
 * HS_CFG_REQUIRED then rejects what is still empty or unset. */
#include "hs_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef HS_VERSION
#define HS_VERSION "unknown"
#endif

/* Secret files are short; anything longer is a mistake in the file name. */
#define SECRET_FILE_MAX (64 * 1024)

/* A parsed value before it is stored: `s` is owned until stored. */
typedef struct {
    char *s;
    int64_t i;
    double d;
    bool b;
} value;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static bool is_string_type(hs_cfg_type type)
{
    return type == HS_CFG_STR || type == HS_CFG_ENUM || type == HS_CFG_URL ||
           type == HS_CFG_LIST;
}

static void *field(void *cfg, const hs_cfg_var *v)
{
    return (char *)cfg + v->offset;
}

static const void *cfield(const void *cfg, const hs_cfg_var *v)
{
    return (const char *)cfg + v->offset;
}

/* The value as it may appear in an error message: quoted, or hidden for a
 * secret. Writes into buf and returns it. */
static const char *shown(const hs_cfg_var *v, const char *text, char *buf, size_t len)
{
    if (v->flags & HS_CFG_SECRET)
        snprintf(buf, len, "the value");
    else
        snprintf(buf, len, "'%.120s'", text);
    return buf;
}

/* Is word one of the '|'-separated items of list? With prefix, is word
 * prefixed by one of them (ignoring case)? */
static bool in_choices(const char *list, const char *word, bool prefix)
{
    if (list == NULL)
        return false;
    size_t wlen = strlen(word);
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, '|');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (prefix) {
            if (len > 0 && wlen > len && strncasecmp(word, p, len) == 0)
                return true;
        } else if (len == wlen && strncmp(word, p, len) == 0) {
            return true;
        }
        if (end == NULL)
            return false;
        p = end + 1;
    }
}

static int parse_int(const hs_cfg_var *v, const char *text, value *out, char *err,
                     size_t errlen)
{
    char q[140];
    const char *s = text;
    if (*s == '+' || *s == '-')
        s++;
    if (*s < '0' || *s > '9') {
        set_err(err, errlen, "%s: %s is not an integer", v->name,
                shown(v, text, q, sizeof q));
        return -1;
    }
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (*end != '\0') {
        set_err(err, errlen, "%s: %s is not an integer", v->name,
                shown(v, text, q, sizeof q));
        return -1;
    }
    if (errno == ERANGE ||
        (v->min <= v->max && ((double)n < v->min || (double)n > v->max))) {
        if (v->min <= v->max)
            set_err(err, errlen, "%s: %s is out of range [%.0f, %.0f]", v->name,
                    shown(v, text, q, sizeof q), v->min, v->max);
        else
            set_err(err, errlen, "%s: %s is out of range", v->name,
                    shown(v, text, q, sizeof q));
        return -1;
    }
    out->i = n;
    return 0;
}

static int parse_double(const hs_cfg_var *v, const char *text, value *out, char *err,
                        size_t errlen)
{
    char q[140];
    char *end = NULL;
    double d = 0.0;
    /* strtod would skip leading blanks; a strict value has none. */
    bool ok = !isspace((unsigned char)text[0]);
    if (ok) {
        d = strtod(text, &end);
        ok = end != text && *end == '\0';
    }
    if (!ok || isnan(d)) {
        set_err(err, errlen, "%s: %s is not a number", v->name,
                shown(v, text, q, sizeof q));
        return -1;
    }
    if (!isfinite(d)) {
        set_err(err, errlen, "%s: %s is not a finite number", v->name,
                shown(v, text, q, sizeof q));
        return -1;
    }
    if (v->min <= v->max && (d < v->min || d > v->max)) {
        set_err(err, errlen, "%s: %s is out of range [%g, %g]", v->name,
                shown(v, text, q, sizeof q), v->min, v->max);
        return -1;
    }
    out->d = d;
    return 0;
}

static int parse_bool(const hs_cfg_var *v, const char *text, value *out, char *err,
                      size_t errlen)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            out->b = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            out->b = false;
            return 0;
        }
    }
    char q[140];
    set_err(err, errlen, "%s: %s is not a boolean (true/false, 1/0, yes/no, on/off)",
            v->name, shown(v, text, q, sizeof q));
    return -1;
}

static int parse_url(const hs_cfg_var *v, const char *text, value *out, char *err,
                     size_t errlen)
{
    char q[140];
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            set_err(err, errlen, "%s: %s contains a blank or control character", v->name,
                    shown(v, text, q, sizeof q));
            return -1;
        }
    }
    if (v->choices != NULL) {
        if (!in_choices(v->choices, text, true)) {
            set_err(err, errlen, "%s: %s must start with %s (and name a host)", v->name,
                    shown(v, text, q, sizeof q), v->choices);
            return -1;
        }
    } else {
        const char *sep = strstr(text, "://");
        if (sep == NULL || sep == text || sep[3] == '\0') {
            set_err(err, errlen, "%s: %s is not a URL (scheme://host...)", v->name,
                    shown(v, text, q, sizeof q));
            return -1;
        }
    }
    out->s = strdup(text);
    if (out->s == NULL) {
        set_err(err, errlen, "%s: out of memory", v->name);
        return -1;
    }
    return 0;
}

/* Trims blanks around every comma-separated item and drops empty items. */
static char *normalize_list(const char *text)
{
    char *out = malloc(strlen(text) + 1);
    if (out == NULL)
        return NULL;
    size_t len = 0;
    const char *p = text;
    for (;;) {
        const char *end = strchr(p, ',');
        const char *stop = end != NULL ? end : p + strlen(p);
        const char *a = p, *b = stop;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            if (len > 0)
                out[len++] = ',';
            memcpy(out + len, a, (size_t)(b - a));
            len += (size_t)(b - a);
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    out[len] = '\0';
    return out;
}

/* Parses text (NULL means unset) for v into out. out->s is malloc'd (or NULL)
 * for the string types. Returns 0, or -1 with a message naming v. */
static int parse_value(const hs_cfg_var *v, const char *text, value *out, char *err,
                       size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (text != NULL && text[0] == '\0' && v->type != HS_CFG_STR &&
        v->type != HS_CFG_LIST && !(v->flags & HS_CFG_SECRET))
        text = v->def != NULL && v->def[0] != '\0' ? v->def : NULL;
    if (text == NULL) {
        if ((v->flags & HS_CFG_REQUIRED) && (v->flags & HS_CFG_SECRET)) {
            set_err(err, errlen, "%s: is required (set %s or %s_FILE)", v->name, v->name,
                    v->name);
            return -1;
        }
        if (v->flags & HS_CFG_REQUIRED) {
            set_err(err, errlen, "%s: is required", v->name);
            return -1;
        }
        return 0;
    }
    if (text[0] == '\0' && (v->flags & HS_CFG_REQUIRED)) {
        set_err(err, errlen, "%s: must not be empty", v->name);
        return -1;
    }
    switch (v->type) {
    case HS_CFG_STR:
        out->s = strdup(text);
        break;
    case HS_CFG_INT:
        return parse_int(v, text, out, err, errlen);
    case HS_CFG_DOUBLE:
        return parse_double(v, text, out, err, errlen);
    case HS_CFG_BOOL:
        return parse_bool(v, text, out, err, errlen);
    case HS_CFG_ENUM:
        if (!in_choices(v->choices, text, false)) {
            char q[140];
            set_err(err, errlen, "%s: must be one of %s, not %s", v->name,
                    v->choices != NULL ? v->choices : "(none)",
                    shown(v, text, q, sizeof q));
            return -1;
        }
        out->s = strdup(text);
        break;
    case HS_CFG_URL:
        return parse_url(v, text, out, err, errlen);
    case HS_CFG_LIST:
        out->s = normalize_list(text);
        if (out->s == NULL)
            break;
        if (out->s[0] == '\0' && (v->flags & HS_CFG_REQUIRED)) {
            free(out->s);
            out->s = NULL;
            set_err(err, errlen, "%s: must list at least one item", v->name);
            return -1;
        }
        return 0;
    default:
        set_err(err, errlen, "%s: unknown variable type %d", v->name, (int)v->type);
        return -1;
    }
    /* Only the string copies of STR, ENUM and LIST get here. */
    if (out->s == NULL) {
        set_err(err, errlen, "%s: out of memory", v->name);
        return -1;
    }
    return 0;
}

/* Stores a parsed value, freeing the string it replaces after the new one is
 * in place. Takes ownership of val->s. */
static void store(const hs_cfg_var *v, void *cfg, value *val)
{
    void *f = field(cfg, v);
    switch (v->type) {
    case HS_CFG_INT:
        *(int64_t *)f = val->i;
        break;
    case HS_CFG_DOUBLE:
        *(double *)f = val->d;
        break;
    case HS_CFG_BOOL:
        *(bool *)f = val->b;
        break;
    default: {
        char *old = *(char **)f;
        *(char **)f = val->s;
        val->s = NULL;
        free(old);
        break;
    }
    }
}

/* Reads a secret file into a malloc'd string without trailing CR/LF. */
static char *read_secret_file(const hs_cfg_var *v, const char *path, char *err,
                              size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        set_err(err, errlen, "%s_FILE: cannot read '%s': %s", v->name, path,
                strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        set_err(err, errlen, "%s_FILE: out of memory", v->name);
        return NULL;
    }
    size_t n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
    int read_failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (read_failed) {
        set_err(err, errlen, "%s_FILE: cannot read '%s': %s", v->name, path,
                strerror(saved));
        free(buf);
        return NULL;
    }
    if (n > SECRET_FILE_MAX) {
        set_err(err, errlen, "%s_FILE: '%s' is larger than %d bytes", v->name, path,
                SECRET_FILE_MAX);
        free(buf);
        return NULL;
    }
    if (memchr(buf, '\0', n) != NULL) {
        set_err(err, errlen, "%s_FILE: '%s' contains a NUL byte", v->name, path);
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

static const char *default_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

/* Clears every field the table names, so a half-filled struct can be freed. */
static void clear_fields(const hs_cfg_var *vars, size_t n, void *cfg)
{
    for (size_t i = 0; i < n; i++) {
        void *f = field(cfg, &vars[i]);
        switch (vars[i].type) {
        case HS_CFG_INT:
            *(int64_t *)f = 0;
            break;
        case HS_CFG_DOUBLE:
            *(double *)f = 0.0;
            break;
        case HS_CFG_BOOL:
            *(bool *)f = false;
            break;
        default:
            *(char **)f = NULL;
            break;
        }
    }
}

/* Any previous content of cfg is overwritten, not freed: pass a zeroed struct
 * or one released with hs_cfg_free(). */
int hs_cfg_load(const hs_cfg_var *vars, size_t n, void *cfg, hs_cfg_getenv_fn getenv_fn,
                void *ud, char *err, size_t errlen)
{
    if (getenv_fn == NULL)
        getenv_fn = default_getenv;
    clear_fields(vars, n, cfg);
    for (size_t i = 0; i < n; i++) {
        const hs_cfg_var *v = &vars[i];
        const char *text = getenv_fn(v->name, ud);
        char *from_file = NULL;
        if (v->flags & HS_CFG_SECRET) {
            char fname[256];
            int fl = snprintf(fname, sizeof fname, "%s_FILE", v->name);
            const char *path =
                fl > 0 && (size_t)fl < sizeof fname ? getenv_fn(fname, ud) : NULL;
            if (path != NULL && path[0] != '\0') {
                if (text != NULL && text[0] != '\0') {
                    set_err(err, errlen, "%s: both %s and %s_FILE are set; set only one",
                            v->name, v->name, v->name);
                    return -1;
                }
                from_file = read_secret_file(v, path, err, errlen);
                if (from_file == NULL)
                    return -1;
                text = from_file;
            }
        }
        if (text == NULL)
            text = v->def;
        value val;
        int rc = parse_value(v, text, &val, err, errlen);
        free(from_file);
        if (rc < 0)
            return -1;
        store(v, cfg, &val);
    }
    return 0;
}

void hs_cfg_free(const hs_cfg_var *vars, size_t n, void *cfg)
{
    if (vars == NULL || cfg == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!is_string_type(vars[i].type))
            continue;
        char **f = field(cfg, &vars[i]);
        free(*f);
        *f = NULL;
    }
}

/* A NULL value resets the variable to its default. */
int hs_cfg_set(const hs_cfg_var *vars, size_t n, void *cfg, const char *name,
               const char *value_text, bool runtime_only, char *err, size_t errlen)
{
    if (name == NULL) {
        set_err(err, errlen, "no setting named");
        return -1;
    }
    const hs_cfg_var *v = NULL;
    for (size_t i = 0; i < n && v == NULL; i++)
        if (strcmp(vars[i].name, name) == 0)
            v = &vars[i];
    if (v == NULL) {
        set_err(err, errlen, "%.100s: unknown setting", name);
        return -1;
    }
    if (runtime_only && !(v->flags & HS_CFG_RUNTIME)) {
        set_err(err, errlen, "%s: cannot be changed at run time", v->name);
        return -1;
    }
    value val;
    if (parse_value(v, value_text != NULL ? value_text : v->def, &val, err, errlen) < 0)
        return -1;
    store(v, cfg, &val);
    return 0;
}

/* Counts UTF-8 characters, so a multibyte character is never cut in half. A
 * run of continuation bytes (invalid UTF-8) counts as one character per four
 * bytes, so such a secret never shows more than 16 bytes. */
char *hs_cfg_mask(const char *secret)
{
    if (secret == NULL)
        return strdup("****");
    size_t len = strlen(secret);
    size_t chars = 0, cont = 0;
    const char *p = secret + len;
    const char *tail = p; /* where the fourth character from the end starts */
    while (p > secret && chars < 5) {
        p--;
        if (((unsigned char)*p & 0xc0) != 0x80 || ++cont == 4) {
            chars++;
            cont = 0;
            if (chars == 4)
                tail = p;
        }
    }
    if (chars <= 4)
        return strdup("****");
    size_t keep = (size_t)(secret + len - tail);
    char *out = malloc(4 + keep + 1);
    if (out == NULL)
        return NULL;
    memcpy(out, "****", 4);
    memcpy(out + 4, tail, keep + 1);
    return out;
}

/* A JSON string of s with every byte outside ASCII replaced by '?', for a
 * value that is not valid UTF-8 (JSON cannot carry it as it is). */
static json_t *ascii_only(const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        return NULL;
    for (char *p = copy; *p != '\0'; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    json_t *j = json_string(copy);
    free(copy);
    return j;
}

json_t *hs_cfg_to_json(const hs_cfg_var *vars, size_t n, const void *cfg)
{
    json_t *obj = json_object();
    if (obj == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const hs_cfg_var *v = &vars[i];
        const void *f = cfield(cfg, v);
        const bool secret = (v->flags & HS_CFG_SECRET) != 0;
        json_t *j;
        switch (v->type) {
        case HS_CFG_INT:
            j = secret ? json_string("****") : json_integer(*(const int64_t *)f);
            break;
        case HS_CFG_DOUBLE:
            j = secret ? json_string("****") : json_real(*(const double *)f);
            break;
        case HS_CFG_BOOL:
            j = secret ? json_string("****") : json_boolean(*(const bool *)f);
            break;
        default: {
            const char *s = *(char *const *)f;
            if (s == NULL) {
                j = json_null();
            } else if (secret && s[0] != '\0') {
                char *m = hs_cfg_mask(s);
                j = m != NULL ? json_string(m) : NULL;
                /* The last characters of a secret may not be valid UTF-8. */
                if (j == NULL && m != NULL)
                    j = ascii_only(m);
                free(m);
            } else {
                j = json_string(s);
                if (j == NULL)
                    j = ascii_only(s);
            }
            break;
        }
        }
        if (j == NULL || json_object_set_new(obj, v->name, j) < 0) {
            json_decref(obj);
            return NULL;
        }
    }
    return obj;
}

/* A short description of v's type for --help. */
static void describe_type(const hs_cfg_var *v, char *buf, size_t len)
{
    switch (v->type) {
    case HS_CFG_STR:
        snprintf(buf, len, "string");
        break;
    case HS_CFG_INT:
        if (v->min <= v->max)
            snprintf(buf, len, "integer %.0f..%.0f", v->min, v->max);
        else
            snprintf(buf, len, "integer");
        break;
    case HS_CFG_DOUBLE:
        if (v->min <= v->max)
            snprintf(buf, len, "number %g..%g", v->min, v->max);
        else
            snprintf(buf, len, "number");
        break;
    case HS_CFG_BOOL:
        snprintf(buf, len, "boolean");
        break;
    case HS_CFG_ENUM:
        snprintf(buf, len, "one of %s", v->choices != NULL ? v->choices : "");
        break;
    case HS_CFG_URL:
        snprintf(buf, len, "URL %s", v->choices != NULL ? v->choices : "");
        break;
    case HS_CFG_LIST:
        snprintf(buf, len, "comma-separated list");
        break;
    default:
        snprintf(buf, len, "?");
        break;
    }
}

static void print_usage_line(FILE *out, const char *prog)
{
    fprintf(out, "Usage: %s [--help | --version | --check-config | --config-markdown]\n",
            prog);
}

void hs_cfg_print_help(FILE *out, const char *prog, const char *summary,
                       const hs_cfg_var *vars, size_t n)
{
    print_usage_line(out, prog);
    if (summary != NULL)
        fprintf(out, "\n%s\n", summary);
    fprintf(out,
            "\nOptions:\n"
            "  -h, --help          print this help and exit\n"
            "  -V, --version       print the version and exit\n"
            "  --check-config      validate the environment, print the configuration "
            "(secrets masked) and exit\n"
            "  --config-markdown   print the variables as a Markdown table and exit\n"
            "\nEnvironment variables:\n");
    for (size_t i = 0; i < n; i++) {
        const hs_cfg_var *v = &vars[i];
        char type[160];
        describe_type(v, type, sizeof type);
        fprintf(out, "  %s (%s", v->name, type);
        if (v->def != NULL)
            fprintf(out, ", default \"%s\"", v->def);
        if (v->flags & HS_CFG_REQUIRED)
            fprintf(out, ", required");
        if (v->flags & HS_CFG_SECRET)
            fprintf(out, ", secret, %s_FILE may name a file holding it", v->name);
        if (v->flags & HS_CFG_RUNTIME)
            fprintf(out, ", changeable at run time");
        fprintf(out, ")\n      %s\n", v->doc != NULL ? v->doc : "");
    }
}

/* Writes text for a Markdown table cell: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *out, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '|')
            fputs("\\|", out);
        else if (*p == '\n' || *p == '\r')
            fputc(' ', out);
        else
            fputc(*p, out);
    }
}

/* Writes the '|'-separated items of list as `a`, `b`. */
static void md_choices(FILE *out, const char *list)
{
    const char *p = list != NULL ? list : "";
    bool first = true;
    for (;;) {
        const char *end = strchr(p, '|');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        fprintf(out, "%s`%.*s`", first ? "" : ", ", (int)len, p);
        first = false;
        if (end == NULL)
            return;
        p = end + 1;
    }
}

void hs_cfg_print_markdown(FILE *out, const hs_cfg_var *vars, size_t n)
{
    fprintf(out, "| Variable | Type | Default | Description |\n"
                 "|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        const hs_cfg_var *v = &vars[i];
        fprintf(out, "| `%s` | ", v->name);
        switch (v->type) {
        case HS_CFG_ENUM:
            fputs("one of ", out);
            md_choices(out, v->choices);
            break;
        case HS_CFG_URL:
            fputs("URL (", out);
            md_choices(out, v->choices);
            fputs(")", out);
            break;
        default: {
            char type[160];
            describe_type(v, type, sizeof type);
            md_cell(out, type);
            break;
        }
        }
        fputs(" | ", out);
        if (v->def == NULL) {
            fputs("(unset)", out);
        } else if (v->def[0] == '\0') {
            fputs("(empty)", out);
        } else {
            fputc('`', out);
            md_cell(out, v->def);
            fputc('`', out);
        }
        fputs(" | ", out);
        md_cell(out, v->doc != NULL ? v->doc : "");
        if (v->flags & HS_CFG_REQUIRED)
            fputs(" Required.", out);
        if (v->flags & HS_CFG_SECRET)
            fprintf(out,
                    " Secret: masked in `/config`; `%s_FILE` may name a file holding it.",
                    v->name);
        if (v->flags & HS_CFG_RUNTIME)
            fputs(" Changeable at run time with `PUT /config`.", out);
        fputs(" |\n", out);
    }
}

/* Loads the configuration from the process environment and reports it. */
static int check_config(const char *prog, const hs_cfg_var *vars, size_t n, void *cfg)
{
    char err[512];
    if (hs_cfg_load(vars, n, cfg, NULL, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return HS_CFG_ARGS_EXIT_FAIL;
    }
    json_t *obj = hs_cfg_to_json(vars, n, cfg);
    char *text =
        obj != NULL ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(obj);
    if (text == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return HS_CFG_ARGS_EXIT_FAIL;
    }
    printf("%s\nconfiguration OK\n", text);
    free(text);
    fflush(stdout);
    return HS_CFG_ARGS_EXIT_OK;
}

int hs_cfg_handle_args(int argc, char **argv, const char *prog, const char *summary,
                       const hs_cfg_var *vars, size_t n, void *cfg)
{
    if (argc <= 1)
        return HS_CFG_ARGS_RUN;
    const char *arg = argv[1];
    bool known = strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
                 strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0 ||
                 strcmp(arg, "--check-config") == 0 ||
                 strcmp(arg, "--config-markdown") == 0;
    if (!known || argc > 2) {
        if (!known)
            fprintf(stderr, "%s: unknown argument '%s'\n", prog, arg);
        else
            fprintf(stderr, "%s: expected one option, got %d\n", prog, argc - 1);
        print_usage_line(stderr, prog);
        fprintf(stderr, "Try '%s --help' for the list of environment variables.\n", prog);
        return HS_CFG_ARGS_EXIT_FAIL;
    }
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        hs_cfg_print_help(stdout, prog, summary, vars, n);
        fflush(stdout);
        return HS_CFG_ARGS_EXIT_OK;
    }
    if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
        printf("%s %s\n", prog, HS_VERSION);
        fflush(stdout);
        return HS_CFG_ARGS_EXIT_OK;
    }
    if (strcmp(arg, "--config-markdown") == 0) {
        hs_cfg_print_markdown(stdout, vars, n);
        fflush(stdout);
        return HS_CFG_ARGS_EXIT_OK;
    }
    return check_config(prog, vars, n, cfg);
}
