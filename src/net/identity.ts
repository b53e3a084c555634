// The user and host a client announces to servers (pvAccess "ca" authentication, CA's
// CLIENT_NAME and HOST_NAME), which servers' access rules match. By default the login name and
// the host name; SLUICE_CLIENT_USER and SLUICE_CLIENT_HOST (or the clients' `identity` option)
// announce others. Nothing proves them: like EPICS, this identifies, it does not authenticate.
import { hostname, userInfo } from 'node:os';

export interface AnnouncedIdentity {
  user: string;
  host: string;
}

export function announcedIdentity(
  env: NodeJS.ProcessEnv,
  given: Partial<AnnouncedIdentity> = {},
  fallbackUser = 'unknown',
): AnnouncedIdentity {
  let user = given.user ?? env['SLUICE_CLIENT_USER'];
  if (user === undefined) {
    try {
      user = userInfo().username;
    } catch {
      user = fallbackUser; // no passwd entry (containers)
    }
  }
  return { user, host: given.host ?? env['SLUICE_CLIENT_HOST'] ?? hostname() };
}
