// Package webhook keeps webhook subscriptions and delivers the change feed's events (package
// event) to them: one ordered stream per webhook, signed with the Standard Webhooks scheme,
// retried with backoff for more than a day, every attempt recorded.
//
// It owns the webhooks and webhook_deliveries tables. It must not write events (they come from
// the changes themselves), must not deliver to loopback, private or link-local addresses unless
// told to (Guard), and must never return a webhook's secret except when it is created.
package webhook
