/** Query parameters whose values never reach a log line. */
const SECRET_PARAMETERS = /([?&](?:token|access_token|auth)=)[^&#]*/gi;

/**
 * A request URL fit for a log line: the value of every `token=` (and the like) in its
 * query replaced with `[redacted]`. Raw clients show their token as `?token=`.
 */
export function redactUrl(url: string | undefined): string | undefined {
  return url === undefined ? undefined : url.replace(SECRET_PARAMETERS, '$1[redacted]');
}
