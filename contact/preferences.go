package contact

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/contactd/contactd/internal/db"
)

// apply merges a patch into p: present fields replace, null clears, absent ones are kept.
func (p *Preferences) apply(patch *PreferencesPatch) {
	if patch == nil {
		return
	}
	if patch.CommunicationMethods.Set {
		p.CommunicationMethods = nil
		if !patch.CommunicationMethods.Null {
			p.CommunicationMethods = slices.Clone(patch.CommunicationMethods.Value)
		}
	}
	setFlag := func(dst **bool, o Opt[bool]) {
		if !o.Set {
			return
		}
		*dst = nil
		if !o.Null {
			v := o.Value
			*dst = &v
		}
	}
	setFlag(&p.Notifications.Email, patch.NotifyEmail)
	setFlag(&p.Notifications.SMS, patch.NotifySMS)
	setText := func(dst **string, o Opt[string]) {
		if !o.Set {
			return
		}
		*dst = nil
		if !o.Null {
			v := o.Value
			*dst = &v
		}
	}
	setText(&p.Frequency, patch.Frequency)
	setText(&p.TimeZone, patch.TimeZone)
	if patch.QuietHours.Set {
		p.QuietHours = nil
		if !patch.QuietHours.Null {
			q := patch.QuietHours.Value
			p.QuietHours = &q
		}
	}
}

// Clone returns a deep copy of p.
func (p Preferences) Clone() Preferences {
	out := p
	out.CommunicationMethods = slices.Clone(p.CommunicationMethods)
	if p.QuietHours != nil {
		q := *p.QuietHours
		out.QuietHours = &q
	}
	return out
}

// Equal reports whether p and o hold the same preferences.
func (p Preferences) Equal(o Preferences) bool {
	eq := func(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	eqs := func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	eqq := (p.QuietHours == nil) == (o.QuietHours == nil) && (p.QuietHours == nil || *p.QuietHours == *o.QuietHours)
	return slices.Equal(p.CommunicationMethods, o.CommunicationMethods) &&
		eq(p.Notifications.Email, o.Notifications.Email) && eq(p.Notifications.SMS, o.Notifications.SMS) &&
		eqs(p.Frequency, o.Frequency) && eqs(p.TimeZone, o.TimeZone) && eqq
}

// Frequencies are the values Preferences.Frequency may hold, most frequent first.
var Frequencies = []string{"immediate", "daily", "weekly", "monthly", "never"}

// FrequencyNever is the frequency of a contact who wants no non-service messages.
const FrequencyNever = "never"

// LoadTimeZone returns the IANA time zone name names; "Local" and "" are refused, as a
// contact's zone must not depend on the server's.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("not an IANA time zone: %q", name)
	}
	return time.LoadLocation(name)
}

// parseClock parses "HH:MM" (24-hour) into minutes after midnight.
func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// Window reports whether t (in loc) falls in the quiet hours and, if so, when they end. A
// window whose start equals its end is empty.
func (q QuietHours) Window(t time.Time, loc *time.Location) (bool, time.Time) {
	start, ok1 := parseClock(q.Start)
	end, ok2 := parseClock(q.End)
	if !ok1 || !ok2 || start == end {
		return false, time.Time{}
	}
	local := t.In(loc)
	now := local.Hour()*60 + local.Minute()
	in := (start < end && now >= start && now < end) || (start > end && (now >= start || now < end))
	if !in {
		return false, time.Time{}
	}
	day := local
	if now >= end {
		day = local.AddDate(0, 0, 1)
	}
	return true, time.Date(day.Year(), day.Month(), day.Day(), end/60, end%60, 0, 0, loc)
}

func validatePreferenceValues(errs *db.FieldErrors, p *PreferencesPatch) {
	if p.Frequency.Set && !p.Frequency.Null {
		p.Frequency.Value = strings.ToLower(strings.TrimSpace(p.Frequency.Value))
		if !slices.Contains(Frequencies, p.Frequency.Value) {
			errs.Add("preferences.frequency", "must be one of %s", strings.Join(Frequencies, ", "))
		}
	}
	if p.TimeZone.Set && !p.TimeZone.Null {
		p.TimeZone.Value = strings.TrimSpace(p.TimeZone.Value)
		if _, err := LoadTimeZone(p.TimeZone.Value); err != nil {
			errs.Add("preferences.timeZone", "must be an IANA time zone such as Europe/Berlin")
		}
	}
	if p.QuietHours.Set && !p.QuietHours.Null {
		q := &p.QuietHours.Value
		q.Start, q.End = strings.TrimSpace(q.Start), strings.TrimSpace(q.End)
		start, ok1 := parseClock(q.Start)
		end, ok2 := parseClock(q.End)
		if !ok1 {
			errs.Add("preferences.quietHours.start", "must be a time of day as HH:MM (24-hour)")
		}
		if !ok2 {
			errs.Add("preferences.quietHours.end", "must be a time of day as HH:MM (24-hour)")
		}
		if ok1 && ok2 && start == end {
			errs.Add("preferences.quietHours.end", "must differ from start")
		}
	}
}
