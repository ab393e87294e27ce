/* units.h - the optional metric conversion (UNITS=metric).
 *
 * Exactly three units are converted, matched byte for byte as Home
 * Assistant writes them: "°F" to "°C" ((v - 32) * 5 / 9), "mph" to "km/h"
 * (v * 1.609344) and "inHg" to "hPa" (v * 33.8638866667). Values are not
 * rounded. Every other unit is left as given. */
#ifndef UNITS_H
#define UNITS_H

/* Converts *v in unit to metric. Returns 1 and sets *v and *to (a static
 * string) when unit is one of the three, else 0 and leaves both alone; also
 * 0 when a finite *v would overflow to infinity. */
int units_to_metric(const char *unit, double *v, const char **to);

#endif
