/* units.c - the optional metric conversion (see units.h). */
#include "units.h"

#include <math.h>
#include <string.h>

int units_to_metric(const char *unit, double *v, const char **to)
{
    double x;
    const char *metric;
    if (!unit)
        return 0;
    if (strcmp(unit, "°F") == 0) {
        x = (*v - 32.0) * 5.0 / 9.0;
        metric = "°C";
    } else if (strcmp(unit, "mph") == 0) {
        x = *v * 1.609344;
        metric = "km/h";
    } else if (strcmp(unit, "inHg") == 0) {
        x = *v * 33.8638866667;
        metric = "hPa";
    } else {
        return 0;
    }
    /* A value near DBL_MAX would overflow: it keeps its own unit instead. */
    if (isfinite(*v) && !isfinite(x))
        return 0;
    *v = x;
    *to = metric;
    return 1;
}
