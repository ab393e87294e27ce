/* units.c - the optional metric conversion (see units.h). */
#include "units.h"

#include <string.h>

int units_to_metric(const char *unit, double *v, const char **to)
{
    if (!unit)
        return 0;
    if (strcmp(unit, "°F") == 0) {
        *v = (*v - 32.0) * 5.0 / 9.0;
        *to = "°C";
        return 1;
    }
    if (strcmp(unit, "mph") == 0) {
        *v = *v * 1.609344;
        *to = "km/h";
        return 1;
    }
    if (strcmp(unit, "inHg") == 0) {
        *v = *v * 33.8638866667;
        *to = "hPa";
        return 1;
    }
    return 0;
}
