/* home.c - the simulated home: areas, devices, entities and the generator. */
#include "home.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    K_WEATHER,
    K_PERSON,
    K_TEMP,
    K_HUMIDITY,
    K_POWER,
    K_ENERGY,
    K_LUX,
    K_DOOR,
    K_MOTION,
    K_WINDOW,
    K_LIGHT,
    K_SWITCH,
    K_TRACKER,
    K_TEXT,
    K_HOSTILE,
    K_CLIMATE,
    K_LARGE,
} kind;

typedef struct {
    const char *domain;
    const char *suffix;   /* object_id suffix */
    const char *label;    /* friendly name suffix */
    const char *platform; /* integration that owns it */
    const char *manufacturer;
    const char *model;
} kind_info;

static const kind_info kinds[] = {
    [K_WEATHER] = {"weather", "home", "Forecast", "met", "Met.no", "Forecast"},
    [K_PERSON] = {"person", "", "", "person", NULL, NULL},
    [K_TEMP] = {"sensor", "temperature", "Temperature", "zha", "Aqara", "WSDCGQ11LM"},
    [K_HUMIDITY] = {"sensor", "humidity", "Humidity", "zha", "Aqara", "WSDCGQ11LM"},
    [K_POWER] = {"sensor", "power", "Power", "shelly", "Shelly", "Plug S"},
    [K_ENERGY] = {"sensor", "energy", "Energy", "shelly", "Shelly", "Plug S"},
    [K_LUX] = {"sensor", "illuminance", "Illuminance", "hue", "Signify", "SML001"},
    [K_DOOR] = {"binary_sensor", "door", "Door", "zha", "Aqara", "MCCGQ11LM"},
    [K_MOTION] = {"binary_sensor", "motion", "Motion", "hue", "Signify", "SML001"},
    [K_WINDOW] = {"binary_sensor", "window", "Window", "zha", "Aqara", "MCCGQ11LM"},
    [K_LIGHT] = {"light", "ceiling", "Ceiling", "hue", "Signify", "LCA001"},
    [K_SWITCH] = {"switch", "plug", "Plug", "tplink", "TP-Link", "HS110"},
    [K_TRACKER] = {"device_tracker", "phone", "Phone", "mobile_app", "Google", "Pixel 9"},
    [K_TEXT] = {"input_text", "note", "Note", "input_text", NULL, NULL},
    [K_HOSTILE] = {"sensor", "now_playing", "Now playing", "template", NULL, NULL},
    [K_CLIMATE] = {"climate", "thermostat", "Thermostat", "netatmo", "Netatmo",
                   "NATherm1"},
    [K_LARGE] = {"sensor", "", "", "rest", NULL, NULL},
};

/* The first slots cover every kind so that even a small home is varied. */
static const kind first_kinds[] = {
    K_WEATHER, K_PERSON,  K_TEMP,   K_DOOR,   K_LIGHT,   K_HUMIDITY,
    K_POWER,   K_ENERGY,  K_MOTION, K_SWITCH, K_TRACKER, K_TEXT,
    K_HOSTILE, K_CLIMATE, K_LUX,    K_WINDOW, K_PERSON,
};
static const kind cycle_kinds[] = {
    K_TEMP, K_HUMIDITY, K_POWER,   K_LIGHT,   K_DOOR, K_ENERGY,  K_MOTION, K_SWITCH,
    K_LUX,  K_WINDOW,   K_TRACKER, K_CLIMATE, K_TEXT, K_HOSTILE, K_TEMP,   K_PERSON,
};

typedef struct {
    const char *id;
    const char *name;
} area_def;

/* One area has a hostile name: quotes, comma, '=', '#', backslash, tab,
 * non-ASCII, emoji and leading/trailing spaces. */
static const area_def area_defs[] = {
    {"living_room", "Living Room"},
    {"kitchen", "Kitchen"},
    {"bedroom", "Bedroom"},
    {"bathroom", "Bathroom"},
    {"office", "Office"},
    {"kids_play_room", " Kid's \"Play\" Room, 1st=floor #2 \\ 日本\t🎲 "},
    {"garage", "Garage"},
    {"jardin_terrasse", "Jardin & Terrasse (été), Straße"},
};
#define N_AREAS ((int)(sizeof area_defs / sizeof area_defs[0]))

static const char *const person_ids[] = {"alice", "bob", "chloe", "dmitri"};
static const char *const person_names[] = {"Alice", "Bob \"The Builder\"", "Chloé",
                                           "Дмитрий \\ D."};
#define N_PERSONS 4

/* Hostile texts used as states (HA caps a state at 255 characters) and as
 * attribute values and names. All valid UTF-8. */
static const char *const hostile[] = {
    "He said \"hello\"",
    "it's O'Brien's",
    "a,b,c",
    "  leading and trailing spaces  ",
    "key=value",
    "C:\\Users\\hasim\\",
    "line one\nline two",
    "tab\there",
    "#not a comment",
    "emoji 🎉🔥 日本語 Straße é",
    "mixed \"q\" 'q' , = \\ \n\t # ü",
    "\\",
    "weather,tag=x value=1 1700000000000000000",
    "{\"json\":\"inside\"}",
    "carriage\rreturn",
    "ends with backslash \\",
    "null",
    "\xe2\x80\xa8 line separator",
};
#define N_HOSTILE ((int)(sizeof hostile / sizeof hostile[0]))

static const char *const weather_conditions[] = {
    "sunny", "partlycloudy", "cloudy", "rainy",       "pouring",
    "fog",   "windy",        "snowy",  "clear-night",
};
#define N_CONDITIONS 9

typedef struct {
    char *id;
    char *name;
    char *name_by_user; /* NULL when the user did not rename it */
    const char *manufacturer;
    const char *model;
    const char *platform;
    char identifier[40];
    int area; /* -1 for none */
} device;

enum { DOWN_UNAVAILABLE = 1, DOWN_UNKNOWN = 2 };

typedef struct {
    kind k;
    char *entity_id;
    size_t domain_len;
    char *name; /* friendly_name */
    char reg_id[33];
    char unique_id[40];
    int area;      /* the entity's own area, -1 when it has none */
    int device;    /* -1 for none */
    int person;    /* person or tracker owner index, -1 for none */
    int appear_at; /* generator step at which a late entity appears, 0 = at start */
    bool present;
    /* current state */
    rstr *state;
    rstr *attrs;
    rstr *json; /* the full state object */
    int64_t lc, lu;
    /* generator variables */
    int64_t v;       /* main value (fixed point) */
    int64_t w, x, y; /* secondary values */
    bool on;
    int pick;         /* index of the current choice in a list */
    int down;         /* 0, or the state is DOWN_UNAVAILABLE / DOWN_UNKNOWN */
    bool attrs_dirty; /* the attributes must be rebuilt at the next write */
} entity;

struct home {
    uint64_t rng;
    int n; /* slots */
    entity *ent;
    int n_dev;
    device *dev;
    char *long_text;  /* a few KB of hostile text for attributes */
    char *max_state;  /* a 255-character state */
    char user_id[33]; /* HA user of person.alice, used in contexts */
    char entry_ids[8][27];
    int64_t created_us;
    int64_t last_us;
    int64_t steps;
    int64_t next_appear; /* smallest appear_at of a late entity not yet present,
                          * INT64_MAX when none is left */
    jbuf scratch;
    jbuf scratch2;
    /* Open-addressing set of the entity ids given so far (borrowed from
     * ent[]), so naming 100k entities stays linear. */
    const char **ids;
    int *next_suffix; /* per slot of a base id: the next _N suffix to try */
    size_t ids_cap;   /* a power of two, at least twice h->n */
};

/* ---- randomness ---------------------------------------------------------- */

static uint64_t rnd(home *h)
{
    uint64_t z = (h->rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform integer in [0, n). */
static int rnd_below(home *h, int n)
{
    return (int)(((rnd(h) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform integer in [lo, hi]. */
static int64_t rnd_range(home *h, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(h) % (uint64_t)(hi - lo + 1));
}

static bool rnd_pct(home *h, int pct)
{
    return rnd_below(h, 1000) < pct * 10;
}

static void rnd_hex(home *h, char *out, int nchars)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < nchars; i++)
        out[i] = hex[rnd(h) & 15];
    out[nchars] = '\0';
}

/* A ULID (as HA uses for context and config entry ids): 48 bits of
 * milliseconds then 80 random bits, Crockford base32, 26 characters. */
static void make_ulid(home *h, int64_t us, char out[27])
{
    static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    uint64_t t = (uint64_t)(us / 1000);
    for (int i = 0; i < 10; i++)
        out[i] = b32[(t >> (45 - 5 * i)) & 31];
    uint64_t r1 = rnd(h), r2 = rnd(h) & 0xffff; /* 80 bits: r2:r1 */
    for (int i = 0; i < 16; i++) {
        int shift = 75 - 5 * i; /* bit offset of this digit in the 80 bits */
        uint64_t d;
        if (shift >= 64)
            d = r2 >> (shift - 64);
        else if (shift > 59)
            d = (r1 >> shift) | (r2 << (64 - shift));
        else
            d = r1 >> shift;
        out[10 + i] = b32[d & 31];
    }
    out[26] = '\0';
}

/* ---- building the home --------------------------------------------------- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static kind slot_kind(int i, int *persons)
{
    kind k;
    if (i < (int)(sizeof first_kinds / sizeof first_kinds[0]))
        k = first_kinds[i];
    else
        k = cycle_kinds[(size_t)(i - (int)(sizeof first_kinds / sizeof first_kinds[0])) %
                        (sizeof cycle_kinds / sizeof cycle_kinds[0])];
    if (k == K_PERSON) {
        if (*persons >= N_PERSONS)
            return K_TRACKER;
        (*persons)++;
    }
    return k;
}

static size_t id_hash(const char *id)
{
    uint64_t x = UINT64_C(1469598103934665603);
    for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
        x = (x ^ *p) * UINT64_C(1099511628211);
    return (size_t)x;
}

/* The slot of id in the set: where it is, or the empty one it would take. */
static size_t id_slot(const home *h, const char *id)
{
    size_t i = id_hash(id) & (h->ids_cap - 1);
    while (h->ids[i] != NULL && strcmp(h->ids[i], id) != 0)
        i = (i + 1) & (h->ids_cap - 1);
    return i;
}

static bool entity_id_taken(const home *h, const char *id)
{
    return h->ids[id_slot(h, id)] != NULL;
}

/* Gives slot i its entity_id, unique like HA's (suffix _2, _3, ...). */
static int name_entity(home *h, int i, const char *domain, const char *base)
{
    entity *e = &h->ent[i];
    char *id = xprintf("%s.%s", domain, base);
    if (id != NULL && entity_id_taken(h, id)) {
        /* The base id is taken: continue its suffixes where the last one
         * with this base stopped. */
        size_t base_slot = id_slot(h, id);
        int n = h->next_suffix[base_slot] > 2 ? h->next_suffix[base_slot] : 2;
        do {
            free(id);
            id = xprintf("%s.%s_%d", domain, base, n++);
        } while (id != NULL && entity_id_taken(h, id));
        h->next_suffix[base_slot] = n;
    }
    if (id == NULL)
        return -1;
    e->entity_id = id;
    h->ids[id_slot(h, id)] = id;
    e->domain_len = strlen(domain);
    return 0;
}

static int add_device(home *h, entity *e, int area, int slot)
{
    const kind_info *ki = &kinds[e->k];
    /* Counted at once so that home_free() releases a half-built device. */
    device *d = &h->dev[h->n_dev++];
    memset(d, 0, sizeof *d);
    e->device = h->n_dev - 1;
    d->id = malloc(33);
    if (d->id == NULL)
        return -1;
    rnd_hex(h, d->id, 32);
    d->area = area;
    d->manufacturer = ki->manufacturer;
    d->model = ki->model;
    d->platform = ki->platform;
    d->name = xprintf("%s %s %d", ki->manufacturer, ki->model, h->n_dev);
    if (d->name == NULL)
        return -1;
    if (slot % 9 == 4)
        d->name_by_user =
            xstrdup(slot % 2 ? "Device \"renamed\", =\\ #1 ☃ " : "Renamed device");
    else if (slot % 9 == 7)
        d->name_by_user = xstrdup(hostile[(size_t)slot % N_HOSTILE]);
    if ((slot % 9 == 4 || slot % 9 == 7) && d->name_by_user == NULL)
        return -1;
    snprintf(d->identifier, sizeof d->identifier, "00:15:8d:00:%02x:%02x:%02x:%02x",
             (unsigned)(rnd(h) & 255), (unsigned)(rnd(h) & 255), (unsigned)(rnd(h) & 255),
             (unsigned)slot & 255);
    return 0;
}

static int setup_slot(home *h, int i, kind k, int persons, int *trackers)
{
    entity *e = &h->ent[i];
    e->k = k;
    e->area = -1;
    e->device = -1;
    e->person = -1;
    const kind_info *ki = &kinds[e->k];
    char base[96];

    switch (e->k) {
    case K_WEATHER:
        if (name_entity(h, i, "weather", "home") < 0 || add_device(h, e, -1, i) < 0)
            return -1;
        e->name = xstrdup("Forecast Home");
        break;
    case K_PERSON: {
        int p = persons - 1;
        e->person = p;
        if (name_entity(h, i, "person", person_ids[p]) < 0)
            return -1;
        e->name = xstrdup(person_names[p]);
        break;
    }
    case K_LARGE:
        if (name_entity(h, i, "sensor", "hasim_large_attributes") < 0)
            return -1;
        e->name = xstrdup("Hasim large attributes");
        break;
    case K_TEXT:
        /* Helpers have no device; every other one is put in an area. */
        if (i % 2 == 0)
            e->area = (i / 2) % N_AREAS;
        snprintf(base, sizeof base, "%s_%s",
                 e->area >= 0 ? area_defs[e->area].id : "house", ki->suffix);
        if (name_entity(h, i, ki->domain, base) < 0)
            return -1;
        e->name = xstrdup(hostile[(size_t)i % N_HOSTILE]);
        break;
    case K_TRACKER:
        if (*trackers < N_PERSONS) {
            e->person = *trackers;
            snprintf(base, sizeof base, "%s_phone", person_ids[*trackers]);
        } else {
            snprintf(base, sizeof base, "tracker_%d", *trackers + 1);
        }
        (*trackers)++;
        if (name_entity(h, i, ki->domain, base) < 0 || add_device(h, e, -1, i) < 0)
            return -1;
        e->name = e->person >= 0 ? xprintf("%s's phone", person_names[e->person])
                                 : xprintf("Tracker %d", *trackers);
        break;
    default: {
        /* How the entity finds its area: 0-2 through its device, 3 its own
         * area overriding the device's, 4 its own area and a device without,
         * 5 no area at all. */
        int mode = i % 6;
        int a = (i * 5 + 3) % N_AREAS;
        int dev_area = mode <= 3 ? a : -1;
        if (mode == 3 || mode == 4)
            e->area = mode == 3 ? (a + 1) % N_AREAS : a;
        int naming_area = e->area >= 0 ? e->area : dev_area;
        snprintf(base, sizeof base, "%s_%s",
                 naming_area >= 0 ? area_defs[naming_area].id : "house", ki->suffix);
        if (name_entity(h, i, ki->domain, base) < 0)
            return -1;
        if (e->k != K_HOSTILE && add_device(h, e, dev_area, i) < 0)
            return -1;
        if (e->k == K_HOSTILE || i % 7 == 5)
            e->name = xprintf("%s %s", hostile[(size_t)(i / 7) % N_HOSTILE], ki->label);
        else if (naming_area >= 0)
            e->name = xprintf("%s %s", area_defs[naming_area].name, ki->label);
        else
            e->name = xprintf("House %s", ki->label);
        break;
    }
    }
    if (e->name == NULL)
        return -1;
    rnd_hex(h, e->reg_id, 32);
    snprintf(e->unique_id, sizeof e->unique_id, "%s-%08llx", ki->platform,
             (unsigned long long)(rnd(h) & 0xffffffffu));
    return 0;
}

/* ---- attributes and states ----------------------------------------------- */

static void kstr(jbuf *b, const char *key, const char *val)
{
    jbuf_put_jcstr(b, key);
    jbuf_putc(b, ':');
    if (val == NULL)
        jbuf_puts(b, "null");
    else
        jbuf_put_jcstr(b, val);
    jbuf_putc(b, ',');
}

static void knum(jbuf *b, const char *key, double v)
{
    jbuf_put_jcstr(b, key);
    jbuf_putc(b, ':');
    jbuf_put_double(b, v);
    jbuf_putc(b, ',');
}

static void kint(jbuf *b, const char *key, int64_t v)
{
    jbuf_put_jcstr(b, key);
    jbuf_putc(b, ':');
    jbuf_put_i64(b, v);
    jbuf_putc(b, ',');
}

static void kraw(jbuf *b, const char *key, const char *raw)
{
    jbuf_put_jcstr(b, key);
    jbuf_putc(b, ':');
    jbuf_puts(b, raw);
    jbuf_putc(b, ',');
}

static void sensor_attrs(jbuf *b, const char *state_class, const char *unit,
                         const char *device_class)
{
    kstr(b, "state_class", state_class);
    kstr(b, "unit_of_measurement", unit);
    kstr(b, "device_class", device_class);
}

/* Writes the attributes of e as HA's integrations would, into b. */
static void build_attrs(home *h, entity *e, jbuf *b)
{
    jbuf_putc(b, '{');
    switch (e->k) {
    case K_WEATHER:
        knum(b, "temperature", (double)e->v / 10.0);
        knum(b, "apparent_temperature", (double)(e->v - 23) / 10.0);
        knum(b, "dew_point", (double)(e->v - 51) / 10.0);
        kstr(b, "temperature_unit", "°C");
        kint(b, "humidity", e->w);
        knum(b, "cloud_coverage", (double)e->x / 10.0);
        knum(b, "uv_index", (double)(e->x % 70) / 10.0);
        knum(b, "pressure", (double)e->y / 10.0);
        kstr(b, "pressure_unit", "hPa");
        knum(b, "wind_bearing", (double)((e->x * 7) % 3600) / 10.0);
        knum(b, "wind_speed", (double)(e->w % 40) + 0.4);
        kstr(b, "wind_speed_unit", "km/h");
        kstr(b, "visibility_unit", "km");
        kstr(b, "precipitation_unit", "mm");
        kstr(b, "attribution",
             "Weather forecast from met.no, delivered by the Norwegian Meteorological "
             "Institute.");
        kstr(b, "friendly_name", e->name);
        kint(b, "supported_features", 3);
        break;
    case K_PERSON: {
        char tracker[64], trackers[80];
        snprintf(tracker, sizeof tracker, "device_tracker.%s_phone",
                 person_ids[e->person]);
        snprintf(trackers, sizeof trackers, "[\"%s\"]", tracker);
        kraw(b, "editable", "true");
        kstr(b, "id", person_ids[e->person]);
        kraw(b, "device_trackers", trackers);
        knum(b, "latitude", 52.0 + (double)e->w / 10000.0);
        knum(b, "longitude", 4.0 + (double)e->x / 10000.0);
        kint(b, "gps_accuracy", e->y);
        kstr(b, "source", tracker);
        kstr(b, "user_id", e->person == 0 ? h->user_id : NULL);
        kstr(b, "friendly_name", e->name);
        break;
    }
    case K_TEMP:
        sensor_attrs(b, "measurement", "°C", "temperature");
        kstr(b, "friendly_name", e->name);
        break;
    case K_HUMIDITY:
        sensor_attrs(b, "measurement", "%", "humidity");
        kstr(b, "friendly_name", e->name);
        break;
    case K_POWER:
        sensor_attrs(b, "measurement", "W", "power");
        kstr(b, "friendly_name", e->name);
        break;
    case K_ENERGY:
        sensor_attrs(b, "total_increasing", "kWh", "energy");
        kstr(b, "friendly_name", e->name);
        break;
    case K_LUX:
        sensor_attrs(b, "measurement", "lx", "illuminance");
        kstr(b, "friendly_name", e->name);
        break;
    case K_DOOR:
        kstr(b, "device_class", "door");
        kstr(b, "friendly_name", e->name);
        break;
    case K_MOTION:
        kstr(b, "device_class", "motion");
        kstr(b, "friendly_name", e->name);
        break;
    case K_WINDOW:
        kstr(b, "device_class", "window");
        kstr(b, "friendly_name", e->name);
        break;
    case K_LIGHT:
        kraw(b, "supported_color_modes", "[\"rgb\"]");
        if (e->on) {
            char rgb[48];
            snprintf(rgb, sizeof rgb, "[%d,%d,%d]", (int)(e->x >> 16) & 255,
                     (int)(e->x >> 8) & 255, (int)e->x & 255);
            kstr(b, "color_mode", "rgb");
            kint(b, "brightness", e->v);
            kraw(b, "rgb_color", rgb);
        } else {
            kraw(b, "color_mode", "null");
            kraw(b, "brightness", "null");
            kraw(b, "rgb_color", "null");
        }
        kstr(b, "friendly_name", e->name);
        kint(b, "supported_features", 44);
        break;
    case K_SWITCH:
        kstr(b, "friendly_name", e->name);
        break;
    case K_TRACKER:
        kstr(b, "source_type", "gps");
        kint(b, "battery_level", e->y);
        knum(b, "latitude", 52.0 + (double)e->w / 10000.0);
        knum(b, "longitude", 4.0 + (double)e->x / 10000.0);
        kint(b, "gps_accuracy", 5 + e->y % 30);
        kint(b, "altitude", 0);
        kstr(b, "friendly_name", e->name);
        break;
    case K_TEXT:
        kraw(b, "editable", "true");
        kint(b, "min", 0);
        kint(b, "max", 255);
        kraw(b, "pattern", "null");
        kstr(b, "mode", "text");
        kstr(b, "friendly_name", e->name);
        break;
    case K_HOSTILE: {
        kstr(b, "comment", hostile[(size_t)(e->entity_id[0] + e->w) % N_HOSTILE]);
        kstr(b, "long_text", h->long_text);
        kstr(b, "empty", "");
        kstr(b, "path", "C:\\Users\\hasim\\");
        jbuf_put_jcstr(b, "tags");
        jbuf_puts(b, ":[");
        for (int i = 0; i < 4; i++) {
            if (i > 0)
                jbuf_putc(b, ',');
            jbuf_put_jcstr(b, hostile[(size_t)(i * 5 + 2) % N_HOSTILE]);
        }
        jbuf_puts(b, "],");
        jbuf_put_jcstr(b, "nested");
        jbuf_puts(b, ":{");
        jbuf_put_jcstr(b, "k=v, x");
        jbuf_putc(b, ':');
        jbuf_put_jcstr(b, "a \"b\" \\ c");
        jbuf_puts(b, ",\"n\":1.5,\"t\":true},");
        kraw(b, "nothing", "null");
        kstr(b, " spaced key = yes ", "it's a \"key\" with spaces");
        kstr(b, "friendly_name", e->name);
        break;
    }
    case K_CLIMATE:
        kraw(b, "hvac_modes", "[\"off\",\"heat\",\"auto\"]");
        knum(b, "min_temp", 7.0);
        knum(b, "max_temp", 35.0);
        knum(b, "target_temp_step", 0.5);
        kraw(b, "preset_modes", "[\"away\",\"comfort\",\"eco\"]");
        knum(b, "current_temperature", (double)e->w / 10.0);
        knum(b, "temperature", (double)e->x / 2.0);
        kstr(b, "hvac_action",
             e->pick == 0      ? "off"
             : e->w < e->x * 5 ? "heating"
                               : "idle");
        kstr(b, "preset_mode", e->y == 0 ? "away" : e->y == 1 ? "comfort" : "eco");
        kstr(b, "friendly_name", e->name);
        kint(b, "supported_features", 401);
        break;
    case K_LARGE: {
        jbuf_put_jcstr(b, "items");
        jbuf_puts(b, ":[");
        size_t want = (size_t)e->v * 1024;
        size_t start = b->len;
        for (int i = 0; b->len - start < want; i++) {
            if (i > 0)
                jbuf_putc(b, ',');
            char item[160];
            snprintf(item, sizeof item,
                     "item %06d: \"quoted\", comma, key=value, back\\slash, é 日本 🎲", i);
            jbuf_put_jcstr(b, item);
            if (jbuf_failed(b))
                break;
        }
        jbuf_puts(b, "],");
        kstr(b, "friendly_name", e->name);
        break;
    }
    }
    if (b->len > 0 && b->data[b->len - 1] == ',')
        b->len--;
    jbuf_putc(b, '}');
}

/* Writes the state string of e into buf. */
static void build_state(const home *h, const entity *e, char *buf, size_t len)
{
    switch (e->k) {
    case K_WEATHER:
        snprintf(buf, len, "%s", weather_conditions[e->pick]);
        break;
    case K_PERSON:
        snprintf(buf, len, "%s",
                 e->pick == 0   ? "home"
                 : e->pick == 1 ? "not_home"
                                : "Work");
        break;
    case K_TEMP:
    case K_HUMIDITY:
    case K_POWER:
        snprintf(buf, len, "%lld.%lld", (long long)(e->v / 10), (long long)(e->v % 10));
        break;
    case K_ENERGY:
        snprintf(buf, len, "%lld.%03lld", (long long)(e->v / 1000),
                 (long long)(e->v % 1000));
        break;
    case K_LUX:
        snprintf(buf, len, "%lld", (long long)e->v);
        break;
    case K_DOOR:
    case K_MOTION:
    case K_WINDOW:
    case K_LIGHT:
    case K_SWITCH:
        snprintf(buf, len, "%s", e->on ? "on" : "off");
        break;
    case K_TRACKER:
        snprintf(buf, len, "%s", e->on ? "home" : "not_home");
        break;
    case K_TEXT:
    case K_HOSTILE:
        if (e->pick == N_HOSTILE)
            snprintf(buf, len, "%s", h->max_state);
        else
            snprintf(buf, len, "%s", hostile[e->pick]);
        break;
    case K_CLIMATE:
        snprintf(buf, len, "%s", e->pick == 0 ? "off" : e->pick == 1 ? "heat" : "auto");
        break;
    case K_LARGE:
        snprintf(buf, len, "%d", (int)e->v);
        break;
    }
}

static void put_context(jbuf *b, const char *id, const char *parent, const char *user)
{
    jbuf_puts(b, "{\"id\":");
    jbuf_put_jcstr(b, id);
    jbuf_puts(b, ",\"parent_id\":");
    if (parent != NULL)
        jbuf_put_jcstr(b, parent);
    else
        jbuf_puts(b, "null");
    jbuf_puts(b, ",\"user_id\":");
    if (user != NULL)
        jbuf_put_jcstr(b, user);
    else
        jbuf_puts(b, "null");
    jbuf_putc(b, '}');
}

/* Builds the state object of e (State.as_dict()) into b. */
static void build_state_json(const entity *e, const char *ctx_json, jbuf *b)
{
    jbuf_puts(b, "{\"entity_id\":");
    jbuf_put_jcstr(b, e->entity_id);
    jbuf_puts(b, ",\"state\":");
    jbuf_put_jstr(b, e->state->data, e->state->len);
    jbuf_puts(b, ",\"attributes\":");
    jbuf_put(b, e->attrs->data, e->attrs->len);
    jbuf_puts(b, ",\"last_changed\":\"");
    jbuf_put_iso(b, e->lc);
    jbuf_puts(b, "\",\"last_reported\":\"");
    jbuf_put_iso(b, e->lu);
    jbuf_puts(b, "\",\"last_updated\":\"");
    jbuf_put_iso(b, e->lu);
    jbuf_puts(b, "\",\"context\":");
    jbuf_puts(b, ctx_json);
    jbuf_putc(b, '}');
}

static rstr *take(jbuf *b)
{
    if (jbuf_failed(b)) {
        jbuf_reset(b);
        return NULL;
    }
    rstr *r = rstr_new(b->data != NULL ? b->data : "", b->len);
    jbuf_reset(b);
    return r;
}

/* Sets e's new state at time us. The attributes are rebuilt; when they come
 * out identical the previous text is kept (and shared with the recorder).
 * Fills ctx_json with the context object used. Returns 0 or -1. */
static int write_state(home *h, entity *e, int64_t us, bool user_action, char *ctx_json,
                       size_t ctx_len)
{
    char st[300];
    if (e->down != 0)
        snprintf(st, sizeof st, "%s",
                 e->down == DOWN_UNKNOWN ? "unknown" : "unavailable");
    else
        build_state(h, e, st, sizeof st);
    rstr *attrs;
    if (e->attrs != NULL && !e->attrs_dirty) {
        attrs = rstr_ref(e->attrs);
    } else {
        build_attrs(h, e, &h->scratch);
        if (e->attrs != NULL && e->attrs->len == h->scratch.len &&
            memcmp(e->attrs->data, h->scratch.data, h->scratch.len) == 0) {
            jbuf_reset(&h->scratch);
            attrs = rstr_ref(e->attrs);
        } else {
            attrs = take(&h->scratch);
        }
    }
    e->attrs_dirty = false;
    if (attrs == NULL)
        return -1;
    bool changed = e->state == NULL || strcmp(e->state->data, st) != 0;
    rstr *state = changed ? rstr_new(st, strlen(st)) : rstr_ref(e->state);
    if (state == NULL) {
        rstr_unref(attrs);
        return -1;
    }
    rstr_unref(e->state);
    rstr_unref(e->attrs);
    e->state = state;
    e->attrs = attrs;
    e->lu = us;
    if (changed)
        e->lc = us;

    char ctx_id[27], parent[27];
    make_ulid(h, us, ctx_id);
    const char *user = NULL;
    const char *par = NULL;
    if (user_action) {
        int r = rnd_below(h, 10);
        if (r < 2)
            user = h->user_id;
        else if (r < 3) {
            make_ulid(h, us - 1500, parent);
            par = parent;
        }
    }
    jbuf ctx;
    jbuf_init(&ctx, 0);
    put_context(&ctx, ctx_id, par, user);
    if (jbuf_failed(&ctx) || ctx.len + 1 > ctx_len) {
        jbuf_fini(&ctx);
        return -1;
    }
    memcpy(ctx_json, ctx.data, ctx.len + 1);
    jbuf_fini(&ctx);

    build_state_json(e, ctx_json, &h->scratch);
    rstr *json = take(&h->scratch);
    if (json == NULL)
        return -1;
    rstr_unref(e->json);
    e->json = json;
    return 0;
}

/* Initial generator values of an entity. */
static void init_values(home *h, entity *e, int large_kb)
{
    switch (e->k) {
    case K_WEATHER:
        e->pick = rnd_below(h, N_CONDITIONS);
        e->v = rnd_range(h, -50, 250);
        e->w = rnd_range(h, 40, 95);
        e->x = rnd_range(h, 0, 1000);
        e->y = rnd_range(h, 9800, 10300);
        break;
    case K_PERSON:
        e->pick = rnd_below(h, 3);
        e->w = rnd_range(h, 3000, 4000);
        e->x = rnd_range(h, 8000, 9000);
        e->y = rnd_range(h, 5, 40);
        break;
    case K_TEMP:
        e->v = rnd_range(h, 170, 240);
        break;
    case K_HUMIDITY:
        e->v = rnd_range(h, 350, 650);
        break;
    case K_POWER:
        e->v = rnd_range(h, 0, 25000);
        break;
    case K_ENERGY:
        e->v = rnd_range(h, 100000, 9000000);
        break;
    case K_LUX:
        e->v = rnd_range(h, 0, 1500);
        break;
    case K_LIGHT:
        e->v = rnd_range(h, 1, 255);
        e->x = (int64_t)(rnd(h) & 0xffffff);
        e->on = rnd_pct(h, 50);
        break;
    case K_TRACKER:
        e->on = rnd_pct(h, 50);
        e->w = rnd_range(h, 3000, 4000);
        e->x = rnd_range(h, 8000, 9000);
        e->y = rnd_range(h, 20, 100);
        break;
    case K_TEXT:
    case K_HOSTILE:
        e->pick = rnd_below(h, N_HOSTILE);
        break;
    case K_CLIMATE:
        e->pick = 1 + rnd_below(h, 2);
        e->w = rnd_range(h, 170, 220);
        e->x = rnd_range(h, 36, 44);
        e->y = rnd_below(h, 3);
        break;
    case K_LARGE:
        e->v = large_kb;
        break;
    default:
        e->on = rnd_pct(h, 50);
        break;
    }
}

static void entity_fini(entity *e)
{
    free(e->entity_id);
    free(e->name);
    rstr_unref(e->state);
    rstr_unref(e->attrs);
    rstr_unref(e->json);
}

void home_free(home *h)
{
    if (h == NULL)
        return;
    if (h->ent != NULL)
        for (int i = 0; i < h->n; i++)
            entity_fini(&h->ent[i]);
    free(h->ent);
    if (h->dev != NULL)
        for (int i = 0; i < h->n_dev; i++) {
            free(h->dev[i].id);
            free(h->dev[i].name);
            free(h->dev[i].name_by_user);
        }
    free(h->dev);
    free(h->ids);
    free(h->next_suffix);
    free(h->long_text);
    free(h->max_state);
    jbuf_fini(&h->scratch);
    jbuf_fini(&h->scratch2);
    free(h);
}

static int build_texts(home *h)
{
    jbuf b;
    jbuf_init(&b, 0);
    for (int i = 0; b.len < 3000; i++) {
        jbuf_puts(&b, hostile[(size_t)i % N_HOSTILE]);
        jbuf_puts(&b, " | ");
    }
    jbuf_puts(&b, "end\\");
    size_t n;
    h->long_text = jbuf_steal(&b, &n);
    /* 255 characters (not bytes): 'é' is one character of two bytes. */
    jbuf_init(&b, 0);
    for (int i = 0; i < 250; i++)
        jbuf_puts(&b, i % 10 == 9 ? "é" : "x");
    jbuf_puts(&b, " end\\");
    h->max_state = jbuf_steal(&b, &n);
    return h->long_text != NULL && h->max_state != NULL ? 0 : -1;
}

/* The smallest appear_at of the late entities not yet present, INT64_MAX
 * when every entity is present. */
static int64_t next_appearance(const home *h)
{
    int64_t next = INT64_MAX;
    for (int i = 0; i < h->n; i++)
        if (!h->ent[i].present && h->ent[i].appear_at != 0 && h->ent[i].appear_at < next)
            next = h->ent[i].appear_at;
    return next;
}

home *home_new(const home_opts *opts, int64_t now_us, char *err, size_t errlen)
{
    if (opts->entities < 1) {
        snprintf(err, errlen, "entities must be at least 1");
        return NULL;
    }
    home *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    jbuf_init(&h->scratch, 0);
    jbuf_init(&h->scratch2, 0);
    h->rng = opts->seed;
    h->n = opts->entities + (opts->large_kb > 0 ? 1 : 0);
    h->ent = calloc((size_t)h->n, sizeof *h->ent);
    h->dev = calloc((size_t)h->n, sizeof *h->dev);
    for (h->ids_cap = 16; h->ids_cap < 2 * (size_t)h->n; h->ids_cap *= 2)
        ;
    h->ids = calloc(h->ids_cap, sizeof *h->ids);
    h->next_suffix = calloc(h->ids_cap, sizeof *h->next_suffix);
    if (h->ent == NULL || h->dev == NULL || h->ids == NULL || h->next_suffix == NULL ||
        build_texts(h) < 0) {
        snprintf(err, errlen, "out of memory");
        home_free(h);
        return NULL;
    }
    rnd_hex(h, h->user_id, 32);
    for (int i = 0; i < 8; i++)
        make_ulid(h, now_us - INT64_C(86400000000) * (30 + i), h->entry_ids[i]);
    int persons = 0, trackers = 0;
    for (int i = 0; i < opts->entities; i++) {
        kind k = slot_kind(i, &persons);
        if (setup_slot(h, i, k, persons, &trackers) < 0) {
            snprintf(err, errlen, "out of memory");
            home_free(h);
            return NULL;
        }
    }
    if (opts->large_kb > 0) {
        if (setup_slot(h, opts->entities, K_LARGE, persons, &trackers) < 0) {
            snprintf(err, errlen, "out of memory");
            home_free(h);
            return NULL;
        }
    }
    int late = opts->late_entities;
    if (late < 0) {
        late = opts->entities / 10;
        if (late > 8)
            late = 8;
    }
    if (late > opts->entities - 1)
        late = opts->entities - 1;
    for (int j = 0; j < late; j++)
        h->ent[opts->entities - late + j].appear_at = 50 * (j + 1);

    h->created_us = now_us;
    h->last_us = now_us - 1;
    for (int i = 0; i < h->n; i++) {
        entity *e = &h->ent[i];
        init_values(h, e, opts->large_kb);
        if (e->appear_at != 0)
            continue;
        char ctx[128];
        if (write_state(h, e, ++h->last_us, false, ctx, sizeof ctx) < 0) {
            snprintf(err, errlen, "out of memory");
            home_free(h);
            return NULL;
        }
        e->present = true;
    }
    h->next_appear = next_appearance(h);
    return h;
}

int home_count(const home *h)
{
    return h->n;
}

bool home_present(const home *h, int i)
{
    return i >= 0 && i < h->n && h->ent[i].present;
}

void home_get(const home *h, int i, home_state *out)
{
    const entity *e = &h->ent[i];
    out->entity_id = e->entity_id;
    out->domain_len = e->domain_len;
    out->state = e->state;
    out->attrs = e->attrs;
    out->last_changed_us = e->lc;
    out->last_updated_us = e->lu;
}

int home_find(const home *h, const char *entity_id)
{
    for (int i = 0; i < h->n; i++)
        if (h->ent[i].present && strcmp(h->ent[i].entity_id, entity_id) == 0)
            return i;
    return -1;
}

int64_t home_last_us(const home *h)
{
    return h->last_us;
}

/* ---- the generator ------------------------------------------------------- */

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Moves v by a random non-zero step in [-max, max], kept within [lo, hi]. */
static int64_t walk(home *h, int64_t v, int64_t max, int64_t lo, int64_t hi)
{
    int64_t d = rnd_range(h, 1, max) * (rnd_pct(h, 50) ? 1 : -1);
    int64_t nv = clamp(v + d, lo, hi);
    if (nv == v)
        nv = clamp(v - d, lo, hi);
    return nv;
}

/* Applies one change to e's generator variables. Returns true when it is a
 * user action (a light or switch toggled by someone). */
static bool mutate(home *h, entity *e)
{
    if (e->down != 0) {
        e->down = 0; /* back from unavailable/unknown with the old value */
        return false;
    }
    if (rnd_below(h, 100) == 0) {
        e->down = rnd_pct(h, 30) ? DOWN_UNKNOWN : DOWN_UNAVAILABLE;
        return false;
    }
    /* These kinds carry values in their attributes. */
    e->attrs_dirty = e->k == K_WEATHER || e->k == K_PERSON || e->k == K_LIGHT ||
                     e->k == K_TRACKER || e->k == K_CLIMATE;
    switch (e->k) {
    case K_WEATHER:
        if (rnd_pct(h, 30))
            e->pick = (e->pick + 1 + rnd_below(h, N_CONDITIONS - 1)) % N_CONDITIONS;
        e->v = walk(h, e->v, 3, -150, 350);
        e->w = walk(h, e->w, 2, 20, 100);
        e->x = walk(h, e->x, 25, 0, 1000);
        e->y = walk(h, e->y, 3, 9600, 10400);
        return false;
    case K_PERSON:
        e->pick = (e->pick + 1 + rnd_below(h, 2)) % 3;
        e->w = walk(h, e->w, 20, 0, 9999);
        e->x = walk(h, e->x, 20, 0, 9999);
        e->y = walk(h, e->y, 5, 3, 60);
        return false;
    case K_TEMP:
        e->v = walk(h, e->v, 5, 120, 320);
        return false;
    case K_HUMIDITY:
        e->v = walk(h, e->v, 10, 200, 950);
        return false;
    case K_POWER:
        e->v = walk(h, e->v, 500, 0, 36000);
        return false;
    case K_ENERGY:
        e->v += rnd_range(h, 1, 50);
        return false;
    case K_LUX:
        e->v = walk(h, e->v, 100, 0, 20000);
        return false;
    case K_LIGHT:
        if (e->on && rnd_pct(h, 60)) {
            e->v = walk(h, e->v, 40, 1, 255);
            if (rnd_pct(h, 30))
                e->x = (int64_t)(rnd(h) & 0xffffff);
        } else {
            e->on = !e->on;
        }
        return true;
    case K_SWITCH:
        e->on = !e->on;
        return true;
    case K_DOOR:
    case K_MOTION:
    case K_WINDOW:
        e->on = !e->on;
        return false;
    case K_TRACKER:
        if (rnd_pct(h, 40))
            e->on = !e->on;
        e->w = walk(h, e->w, 30, 0, 9999);
        e->x = walk(h, e->x, 30, 0, 9999);
        e->y = walk(h, e->y, 1, 1, 100);
        return false;
    case K_TEXT:
    case K_HOSTILE:
        /* N_HOSTILE stands for the 255-character state. */
        e->pick = (e->pick + 1 + rnd_below(h, N_HOSTILE)) % (N_HOSTILE + 1);
        if (e->k == K_HOSTILE && rnd_pct(h, 10)) {
            e->w++;
            e->attrs_dirty = true;
        }
        return e->k == K_TEXT;
    case K_CLIMATE:
        if (rnd_pct(h, 20))
            e->pick = (e->pick + 1 + rnd_below(h, 2)) % 3;
        else if (rnd_pct(h, 20))
            e->x = walk(h, e->x, 2, 14, 60);
        else
            e->w = walk(h, e->w, 3, 100, 300);
        if (rnd_pct(h, 5))
            e->y = (e->y + 1) % 3;
        return false;
    case K_LARGE:
        return false;
    }
    return false;
}

/* Picks the entity to change: any present one but the large one; weather and
 * persons change less often. */
static int pick_entity(home *h)
{
    for (;;) {
        int i = rnd_below(h, h->n);
        entity *e = &h->ent[i];
        if (!e->present || e->k == K_LARGE)
            continue;
        if ((e->k == K_WEATHER || e->k == K_PERSON) && rnd_below(h, 3) != 0)
            continue;
        return i;
    }
}

/* The next last_updated: the clock, but strictly after the previous one.
 * When the clock crossed a whole second since the previous event, the event
 * is stamped exactly on that second: HA does that about once in a million
 * events, and isoformat() then writes no fraction at all, a form consumers
 * must meet in tests too. */
static int64_t next_us(home *h, int64_t now_us)
{
    int64_t second = now_us - now_us % 1000000;
    if (second > h->last_us && second <= now_us)
        h->last_us = second;
    else
        h->last_us = now_us > h->last_us ? now_us : h->last_us + 1;
    return h->last_us;
}

/* The entity_registry_updated event for a new entity. */
static rstr *registry_event(home *h, const entity *e, int64_t us)
{
    jbuf *b = &h->scratch2;
    char ctx[27];
    make_ulid(h, us, ctx);
    jbuf_puts(
        b, "{\"event_type\":\"entity_registry_updated\",\"data\":{\"action\":\"create\","
           "\"entity_id\":");
    jbuf_put_jcstr(b, e->entity_id);
    jbuf_puts(b, "},\"origin\":\"LOCAL\",\"time_fired\":\"");
    jbuf_put_iso(b, us);
    jbuf_puts(b, "\",\"context\":");
    put_context(b, ctx, NULL, NULL);
    jbuf_putc(b, '}');
    return take(b);
}

int home_step(home *h, int64_t now_us, home_change *out)
{
    out->registry_event = NULL;
    out->event = NULL;
    h->steps++;
    int idx = -1;
    /* Only a step that reached a late entity's turn scans for it: a scan of
     * every entity per event made a 100k-entity home slow. */
    for (int i = h->steps >= h->next_appear ? 0 : h->n; i < h->n; i++) {
        if (!h->ent[i].present && h->ent[i].appear_at != 0 &&
            h->ent[i].appear_at <= h->steps) {
            idx = i;
            break;
        }
    }
    rstr *old = NULL;
    entity *e;
    bool user = false;
    if (idx >= 0) {
        e = &h->ent[idx];
        out->registry_event = registry_event(h, e, next_us(h, now_us));
        if (out->registry_event == NULL)
            return -1;
        e->present = true;
        h->next_appear = next_appearance(h);
    } else {
        idx = pick_entity(h);
        e = &h->ent[idx];
        old = rstr_ref(e->json);
        user = mutate(h, e);
    }
    int64_t us = next_us(h, now_us);
    char ctx[128];
    if (write_state(h, e, us, user, ctx, sizeof ctx) < 0) {
        rstr_unref(old);
        rstr_unref(out->registry_event);
        out->registry_event = NULL;
        return -1;
    }
    jbuf *b = &h->scratch;
    jbuf_puts(b, "{\"event_type\":\"state_changed\",\"data\":{\"entity_id\":");
    jbuf_put_jcstr(b, e->entity_id);
    jbuf_puts(b, ",\"old_state\":");
    if (old != NULL)
        jbuf_put(b, old->data, old->len);
    else
        jbuf_puts(b, "null");
    jbuf_puts(b, ",\"new_state\":");
    jbuf_put(b, e->json->data, e->json->len);
    jbuf_puts(b, "},\"origin\":\"LOCAL\",\"time_fired\":\"");
    jbuf_put_iso(b, us);
    jbuf_puts(b, "\",\"context\":");
    jbuf_puts(b, ctx);
    jbuf_putc(b, '}');
    rstr_unref(old);
    out->event = take(b);
    out->entity = idx;
    if (out->event == NULL) {
        rstr_unref(out->registry_event);
        out->registry_event = NULL;
        return -1;
    }
    return 0;
}

/* ---- result payloads ----------------------------------------------------- */

void home_states_json(const home *h, jbuf *b)
{
    jbuf_putc(b, '[');
    bool first = true;
    for (int i = 0; i < h->n; i++) {
        if (!h->ent[i].present)
            continue;
        if (!first)
            jbuf_putc(b, ',');
        first = false;
        jbuf_put(b, h->ent[i].json->data, h->ent[i].json->len);
    }
    jbuf_putc(b, ']');
}

void home_config_json(const home *h, jbuf *b)
{
    (void)h;
    jbuf_puts(
        b, "{\"latitude\":52.3731,\"longitude\":4.8922,\"elevation\":2,"
           "\"unit_system\":{\"length\":\"km\",\"accumulated_precipitation\":\"mm\","
           "\"area\":\"m²\",\"mass\":\"g\",\"pressure\":\"Pa\",\"temperature\":\"°C\","
           "\"volume\":\"L\",\"wind_speed\":\"m/s\"},"
           "\"location_name\":\"Home \\\"Sweet\\\" Home, é\",\"time_zone\":\"UTC\","
           "\"components\":[\"api\",\"binary_sensor\",\"climate\",\"device_tracker\","
           "\"history\",\"http\",\"input_text\",\"light\",\"met\",\"person\","
           "\"recorder\",\"sensor\",\"switch\",\"weather\",\"websocket_api\",\"zha\"],"
           "\"config_dir\":\"/config\",\"whitelist_external_dirs\":[\"/media\","
           "\"/config/www\"],\"allowlist_external_dirs\":[\"/media\",\"/config/www\"],"
           "\"allowlist_external_urls\":[],\"version\":\"" HASIM_HA_VERSION "\","
           "\"config_source\":\"storage\",\"recovery_mode\":false,\"state\":\"RUNNING\","
           "\"external_url\":null,\"internal_url\":null,\"currency\":\"EUR\","
           "\"country\":\"NL\",\"language\":\"en\",\"safe_mode\":false,\"debug\":false,"
           "\"radius\":100}");
}

void home_areas_json(const home *h, jbuf *b)
{
    jbuf_putc(b, '[');
    for (int i = 0; i < N_AREAS; i++) {
        if (i > 0)
            jbuf_putc(b, ',');
        jbuf_puts(b, "{\"aliases\":[],\"area_id\":");
        jbuf_put_jcstr(b, area_defs[i].id);
        jbuf_puts(b, ",\"floor_id\":null,\"humidity_entity_id\":null,\"icon\":null,"
                     "\"labels\":[],\"name\":");
        jbuf_put_jcstr(b, area_defs[i].name);
        jbuf_puts(b, ",\"picture\":null,\"temperature_entity_id\":null,\"created_at\":");
        jbuf_put_ts(b, h->created_us - INT64_C(86400000000) * 40);
        jbuf_puts(b, ",\"modified_at\":");
        jbuf_put_ts(b, h->created_us - INT64_C(86400000000) * 40);
        jbuf_putc(b, '}');
    }
    jbuf_putc(b, ']');
}

static int entry_for(const char *platform)
{
    static const char *const platforms[] = {"met",    "zha",        "shelly",  "hue",
                                            "tplink", "mobile_app", "netatmo", "rest"};
    for (int i = 0; i < 8; i++)
        if (strcmp(platforms[i], platform) == 0)
            return i;
    return -1;
}

void home_devices_json(const home *h, jbuf *b)
{
    jbuf_putc(b, '[');
    for (int i = 0; i < h->n_dev; i++) {
        const device *d = &h->dev[i];
        const char *entry = h->entry_ids[entry_for(d->platform) & 7];
        if (i > 0)
            jbuf_putc(b, ',');
        jbuf_puts(b, "{\"area_id\":");
        if (d->area >= 0)
            jbuf_put_jcstr(b, area_defs[d->area].id);
        else
            jbuf_puts(b, "null");
        jbuf_puts(b, ",\"configuration_url\":null,\"config_entries\":[");
        jbuf_put_jcstr(b, entry);
        jbuf_puts(b, "],\"config_entries_subentries\":{");
        jbuf_put_jcstr(b, entry);
        jbuf_puts(b, ":[null]},\"connections\":[],\"created_at\":");
        jbuf_put_ts(b, h->created_us - INT64_C(86400000000) * 20);
        jbuf_puts(b, ",\"disabled_by\":null,\"entry_type\":");
        jbuf_puts(b, strcmp(d->platform, "met") == 0 ? "\"service\"" : "null");
        jbuf_puts(b, ",\"hw_version\":null,\"id\":");
        jbuf_put_jcstr(b, d->id);
        jbuf_puts(b, ",\"identifiers\":[[");
        jbuf_put_jcstr(b, d->platform);
        jbuf_putc(b, ',');
        jbuf_put_jcstr(b, d->identifier);
        jbuf_puts(b, "]],\"labels\":[],\"manufacturer\":");
        jbuf_put_jcstr(b, d->manufacturer);
        jbuf_puts(b, ",\"model\":");
        jbuf_put_jcstr(b, d->model);
        jbuf_puts(b, ",\"model_id\":null,\"modified_at\":");
        jbuf_put_ts(b, h->created_us - INT64_C(86400000000) * 20);
        jbuf_puts(b, ",\"name_by_user\":");
        if (d->name_by_user != NULL)
            jbuf_put_jcstr(b, d->name_by_user);
        else
            jbuf_puts(b, "null");
        jbuf_puts(b, ",\"name\":");
        jbuf_put_jcstr(b, d->name);
        jbuf_puts(b, ",\"primary_config_entry\":");
        jbuf_put_jcstr(b, entry);
        jbuf_puts(
            b,
            ",\"serial_number\":null,\"sw_version\":\"1.2.3\",\"via_device_id\":null}");
    }
    jbuf_putc(b, ']');
}

/* One entity registry entry as entity_registry.py's as_partial_dict (the
 * list's elements), or with extended the extended_dict of
 * config/entity_registry/get (aliases, capabilities, device_class,
 * original_device_class and original_icon as well). Members in sorted
 * order, as elsewhere in the simulator. */
static void entity_entry_json(const home *h, int i, bool extended, jbuf *b)
{
    const entity *e = &h->ent[i];
    const kind_info *ki = &kinds[e->k];
    int entry = entry_for(ki->platform);
    jbuf_putc(b, '{');
    if (extended)
        jbuf_puts(b, "\"aliases\":[],");
    jbuf_puts(b, "\"area_id\":");
    if (e->area >= 0)
        jbuf_put_jcstr(b, area_defs[e->area].id);
    else
        jbuf_puts(b, "null");
    if (extended)
        jbuf_puts(b, ",\"capabilities\":null");
    jbuf_puts(b, ",\"categories\":{},\"config_entry_id\":");
    if (entry >= 0)
        jbuf_put_jcstr(b, h->entry_ids[entry]);
    else
        jbuf_puts(b, "null");
    jbuf_puts(b, ",\"config_subentry_id\":null,\"created_at\":");
    jbuf_put_ts(b, h->created_us - INT64_C(86400000000) * 10);
    if (extended)
        jbuf_puts(b, ",\"device_class\":null");
    jbuf_puts(b, ",\"device_id\":");
    if (e->device >= 0)
        jbuf_put_jcstr(b, h->dev[e->device].id);
    else
        jbuf_puts(b, "null");
    jbuf_puts(b, ",\"disabled_by\":null,\"entity_category\":null,\"entity_id\":");
    jbuf_put_jcstr(b, e->entity_id);
    jbuf_puts(b, ",\"has_entity_name\":");
    jbuf_puts(b, e->device >= 0 ? "true" : "false");
    jbuf_puts(b, ",\"hidden_by\":null,\"icon\":null,\"id\":");
    jbuf_put_jcstr(b, e->reg_id);
    jbuf_puts(b, ",\"labels\":[],\"modified_at\":");
    jbuf_put_ts(b, h->created_us - INT64_C(86400000000) * 10);
    jbuf_puts(b, ",\"name\":");
    if (i % 7 == 5)
        jbuf_put_jcstr(b, e->name); /* the user's own (hostile) name */
    else
        jbuf_puts(b, "null");
    jbuf_puts(b, ",\"options\":{}");
    if (extended)
        jbuf_puts(b, ",\"original_device_class\":null,\"original_icon\":null");
    jbuf_puts(b, ",\"original_name\":");
    jbuf_put_jcstr(b, ki->label[0] ? ki->label : e->name);
    jbuf_puts(b, ",\"platform\":");
    jbuf_put_jcstr(b, ki->platform);
    jbuf_puts(b, ",\"translation_key\":null,\"unique_id\":");
    jbuf_put_jcstr(b, e->unique_id);
    jbuf_putc(b, '}');
}

void home_entities_json(const home *h, jbuf *b)
{
    jbuf_putc(b, '[');
    bool first = true;
    for (int i = 0; i < h->n; i++) {
        if (!h->ent[i].present)
            continue;
        if (!first)
            jbuf_putc(b, ',');
        first = false;
        entity_entry_json(h, i, false, b);
    }
    jbuf_putc(b, ']');
}

int home_entity_json(const home *h, const char *entity_id, jbuf *b)
{
    int i = home_find(h, entity_id);
    if (i < 0 || !h->ent[i].present)
        return -1;
    entity_entry_json(h, i, true, b);
    return 0;
}

static bool id_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* One side of an entity_id: [a-z0-9_]+, not starting or ending with '_'. */
static bool valid_part(const char *s, size_t n)
{
    if (n == 0 || s[0] == '_' || s[n - 1] == '_')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i]))
            return false;
    return true;
}

/* HA's pattern: ^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$ */
bool home_valid_entity_id(const char *entity_id)
{
    const char *dot = strchr(entity_id, '.');
    if (dot == NULL || strstr(entity_id, "__") != NULL)
        return false;
    return valid_part(entity_id, (size_t)(dot - entity_id)) &&
           valid_part(dot + 1, strlen(dot + 1));
}
