package contact

import "slices"

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
}

// Clone returns a deep copy of p.
func (p Preferences) Clone() Preferences {
	out := p
	out.CommunicationMethods = slices.Clone(p.CommunicationMethods)
	return out
}

// Equal reports whether p and o hold the same preferences.
func (p Preferences) Equal(o Preferences) bool {
	eq := func(a, b *bool) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	return slices.Equal(p.CommunicationMethods, o.CommunicationMethods) &&
		eq(p.Notifications.Email, o.Notifications.Email) && eq(p.Notifications.SMS, o.Notifications.SMS)
}
