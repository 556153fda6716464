// Package merge merges contacts losslessly and reversibly (table merges): one merge or many
// disjoint clusters at once, each with a snapshot of everything it touched, and undo. It owns
// no contact data: the contacts' own fields, alternates and keys are written through package
// contact, and every other concern's rows (relationships, external references, review items,
// and whatever comes next) through that concern's contact.Owned, handed to NewStore. Adding a
// concern must never need an edit here. It must not know about HTTP, jobs' workers or the
// matcher's scoring: callers (the API, dedupe) decide what to merge.
package merge
