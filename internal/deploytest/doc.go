// Package deploytest tests what deploy/ ships, as users run it: the alert rules with promtool, the
// dashboard's queries and the rules against a real Prometheus scraping a real purgewatch, the Helm
// chart through helm and the Kubernetes API types, and the systemd unit with systemd-analyze.
package deploytest
