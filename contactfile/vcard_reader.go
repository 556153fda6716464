package contactfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// vcardDecoder reads vCard 2.1, 3.0 and 4.0 card by card: folded lines,
// quoted-printable soft line breaks, group prefixes, PREF and TYPE=pref.
//
// Text outside a card other than BEGIN:VCARD, and a file ending inside a
// card, are fatal. A card cut short by the next BEGIN:VCARD, an overlong
// property that matters, and a value that is not UTF-8 after decoding are
// row errors. Property lines without a colon are ignored, as are binary
// properties (PHOTO, LOGO, SOUND, KEY).
type vcardDecoder struct {
	lr           lineReader
	ids          *idHasher
	logical      []byte
	pendingBegin int
	emails       []prefValue
	phones       []prefValue
	// adrPref is the preference of the ADR the row's address came from
	// (-1: none yet).
	adrPref   int
	cardBytes int
}

// prefValue is an email or phone with its preference (lower is preferred).
type prefValue struct {
	v    string
	pref int
}

// noPref is the preference of a value without PREF.
const noPref = 101

func newVCardDecoder(br *bufio.Reader, maxLine int) *vcardDecoder {
	return &vcardDecoder{lr: lineReader{br: br, max: maxLine}, ids: newIDHasher()}
}

func (d *vcardDecoder) mapping() Mapping { return Mapping{} }

// vcardProp is one parsed property line.
type vcardProp struct {
	name    string
	value   []byte
	pref    int
	qp      bool
	charset string
	line    int
}

func (d *vcardDecoder) next(row *Row, build bool) error {
	if err := d.findBegin(row); err != nil {
		return err
	}
	d.emails, d.phones, d.cardBytes, d.adrPref = d.emails[:0], d.phones[:0], 0, -1
	var fn string
	var rowErr *RowError
	for {
		l, start, truncated, err := d.readLogical()
		if err == io.EOF {
			return &FileError{Line: max(d.lr.line, row.Line),
				Err: fmt.Errorf("%w (the card begins on line %d)", ErrUnterminatedCard, row.Line)}
		}
		if err != nil {
			return err
		}
		p, ok := parseVCardProp(l)
		if !ok {
			continue
		}
		p.line = start
		switch p.name {
		case "END":
			if isVCard(p.value) {
				return d.finish(row, fn, rowErr, build)
			}
			continue
		case "BEGIN":
			if isVCard(p.value) {
				d.pendingBegin = start
				return &RowError{Line: row.Line, Message: "card has no END:VCARD before the next BEGIN:VCARD"}
			}
			continue
		}
		if !build || rowErr != nil {
			continue
		}
		if p.charset == "" && !utf8.Valid(l) {
			return &FileError{Line: start, Err: ErrInvalidUTF8}
		}
		rowErr = d.apply(row, &p, truncated, &fn)
	}
}

// findBegin passes blank lines up to the next BEGIN:VCARD and sets the
// row's line to it.
func (d *vcardDecoder) findBegin(row *Row) error {
	if d.pendingBegin > 0 {
		row.Line, d.pendingBegin = d.pendingBegin, 0
		return nil
	}
	for {
		l, start, _, err := d.readLogical()
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if p, ok := parseVCardProp(l); ok && p.name == "BEGIN" && isVCard(p.value) {
			row.Line = start
			return nil
		}
		if !utf8.Valid(l) {
			return &FileError{Line: start, Err: ErrInvalidUTF8}
		}
		return &FileError{Line: start, Err: ErrNotVCard}
	}
}

// apply stores one property of the card, or returns why the card is bad.
func (d *vcardDecoder) apply(row *Row, p *vcardProp, truncated bool, fn *string) *RowError {
	if _, skip := vcardIgnored[p.name]; skip {
		return nil
	}
	if truncated {
		return &RowError{Line: p.line, Field: lowerName(p.name), Message: fmt.Sprintf("longer than %d bytes", d.lr.max)}
	}
	v, ok := decodeVCardValue(p)
	if !ok {
		return &RowError{Line: p.line, Field: lowerName(p.name), Message: "value is not UTF-8 (charset " + cmpOr(p.charset, "UTF-8") + ")"}
	}
	if d.cardBytes += len(v); d.cardBytes > 4*d.lr.max {
		return &RowError{Line: p.line, Field: lowerName(p.name), Message: fmt.Sprintf("card larger than %d bytes", 4*d.lr.max)}
	}
	switch p.name {
	case "N":
		last, first := firstComponents(v)
		row.LastName = strings.TrimSpace(unescapeText(last))
		row.FirstName = strings.TrimSpace(unescapeText(first))
	case "FN":
		*fn = strings.TrimSpace(unescapeText(v))
	case "EMAIL":
		if s := strings.TrimSpace(trimScheme(unescapeText(v), "mailto:")); s != "" {
			d.emails = append(d.emails, prefValue{s, p.pref})
		}
	case "TEL":
		if s := telValue(unescapeText(v)); s != "" {
			d.phones = append(d.phones, prefValue{s, p.pref})
		}
	case "ORG":
		org, _ := firstComponents(v)
		row.Company = cmpOr(row.Company, strings.TrimSpace(unescapeText(org)))
	case "TITLE":
		row.Title = cmpOr(row.Title, strings.TrimSpace(unescapeText(v)))
	case "ADR":
		if d.adrPref < 0 || p.pref < d.adrPref {
			d.adrPref = p.pref
			setAddress(row, v)
		}
	case "CATEGORIES":
		for _, t := range SplitComponents(v, ',') {
			row.addTags(unescapeText(t), "\x00")
		}
	case "UID":
		row.ExternalID = cmpOr(row.ExternalID, strings.TrimSpace(unescapeText(v)))
	case "X-CONTACTD-STATUS":
		row.setExtra("status", strings.TrimSpace(unescapeText(v)))
	case "X-CONTACTD-EXTERNAL-ID":
		if s := strings.TrimSpace(unescapeText(v)); s != "" {
			row.ExternalIDs = append(row.ExternalIDs, s)
		}
	default:
		if key, ok := CustomKey(p.name); ok {
			if s := strings.TrimSpace(unescapeText(v)); s != "" {
				if row.Custom == nil {
					row.Custom = map[string]string{}
				}
				row.Custom[key] = s
			}
			return nil
		}
		row.setExtra(lowerName(p.name), strings.TrimSpace(unescapeText(v)))
	}
	return nil
}

// vcardIgnored are properties that are not contact data worth keeping.
var vcardIgnored = map[string]struct{}{
	"VERSION": {}, "PRODID": {}, "PHOTO": {}, "LOGO": {}, "SOUND": {}, "KEY": {},
}

// finish orders emails and phones by preference and derives the rest.
func (d *vcardDecoder) finish(row *Row, fn string, rowErr *RowError, build bool) error {
	if rowErr != nil {
		return rowErr
	}
	if !build {
		return nil
	}
	for _, list := range [...]*[]prefValue{&d.emails, &d.phones} {
		slices.SortStableFunc(*list, func(a, b prefValue) int { return a.pref - b.pref })
	}
	for _, e := range d.emails {
		row.addEmail(e.v)
	}
	for _, p := range d.phones {
		row.addPhone(p.v)
	}
	d.ids.finish(row, fn)
	return nil
}

// readLogical returns the next unfolded line, the line it starts on, and
// whether it was cut at the bound. The bytes are valid until the next call.
func (d *vcardDecoder) readLogical() (l []byte, start int, truncated bool, err error) {
	b, tooLong, err := d.lr.next()
	if err != nil {
		return nil, 0, false, err
	}
	start = d.lr.line
	d.logical = append(d.logical[:0], b...)
	truncated = tooLong
	qp := isQuotedPrintable(d.logical)
	for {
		softBreak := qp && len(d.logical) > 0 && d.logical[len(d.logical)-1] == '='
		if !softBreak {
			next, err := d.lr.br.Peek(1)
			if err != nil || (next[0] != ' ' && next[0] != '\t') {
				return d.logical, start, truncated, nil
			}
		}
		b, tooLong, err := d.lr.next()
		if err != nil {
			return d.logical, start, truncated, nil
		}
		if softBreak {
			d.logical = d.logical[:len(d.logical)-1]
		} else {
			b = b[1:]
		}
		if tooLong || len(d.logical)+len(b) > d.lr.max {
			truncated = true
			continue
		}
		d.logical = append(d.logical, b...)
	}
}

// isQuotedPrintable reports whether a property line's parameters declare
// quoted-printable encoding.
func isQuotedPrintable(l []byte) bool {
	i := bytes.IndexByte(l, ':')
	if i < 0 {
		return false
	}
	const qp = "QUOTED-PRINTABLE"
	for j := 0; j+len(qp) <= i; j++ {
		if (l[j] == 'Q' || l[j] == 'q') && equalFold(l[j:j+len(qp)], qp) {
			return true
		}
	}
	return false
}

func isVCard(v []byte) bool {
	return strings.EqualFold(string(bytes.TrimSpace(v)), "VCARD")
}

// SplitComponents splits a vCard value at sep where it is not escaped by a
// backslash: the components of a structured value (N, ORG, ADR at ';') or
// the items of a list (CATEGORIES at ','). The parts keep their escapes.
func SplitComponents(v string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case sep:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// setAddress sets the row's address from an ADR value: post office box;
// extended address; street; locality; region; postal code; country. The
// street takes the extended address after it (an apartment), or the post
// office box when it has neither.
func setAddress(row *Row, v string) {
	comp := SplitComponents(v, ';')
	part := func(i int) string {
		if i < len(comp) {
			return oneLine(unescapeText(comp[i]))
		}
		return ""
	}
	street := part(2)
	if ext := part(1); ext != "" {
		street = strings.TrimPrefix(street+", "+ext, ", ")
	}
	if street == "" {
		street = part(0)
	}
	row.Street, row.City, row.Region, row.PostalCode, row.Country = street, part(3), part(4), part(5), part(6)
}
