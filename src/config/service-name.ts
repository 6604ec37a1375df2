/**
 * The rule for a service name, in one place: the schema checks boxship.yml with it, and the proxy config (which
 * turns the name into `<service>-<n>-<colour>` network aliases) checks its input with the same rule. A name is one
 * DNS label: the image, container, network and alias names are all built from it.
 */
export const SERVICE_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** SERVICE_RE in words, for messages. */
export const SERVICE_RULE = 'lowercase letters, digits and -, starting with a letter or digit, at most 63 characters';
