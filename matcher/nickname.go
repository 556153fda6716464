package matcher

import (
	_ "embed"
	"strings"
	"sync"
)

// nicknamesCSV is the given-name → nickname table of
// github.com/carltonnorthern/nicknames (Apache-2.0, see
// data/NICKNAMES-LICENSE.txt and data/NICKNAMES-SOURCE.md).
//
//go:embed data/nicknames.csv
var nicknamesCSV string

// nicknameTable groups given names with their nicknames and diminutives.
type nicknameTable struct {
	ids    map[string]int32 // folded name → id
	groups [][]int32        // id → sorted group ids it belongs to
}

var (
	nicknamesOnce sync.Once
	nicknames     *nicknameTable
)

func loadNicknames() *nicknameTable {
	nicknamesOnce.Do(func() {
		t := &nicknameTable{ids: make(map[string]int32, 3000)}
		groupOf := map[string]int32{} // canonical name → group id
		id := func(name string) int32 {
			if v, ok := t.ids[name]; ok {
				return v
			}
			v := int32(len(t.groups))
			t.ids[name] = v
			t.groups = append(t.groups, nil)
			return v
		}
		addTo := func(name string, g int32) {
			i := id(name)
			for _, x := range t.groups[i] {
				if x == g {
					return
				}
			}
			t.groups[i] = append(t.groups[i], g)
		}
		for i, line := range strings.Split(nicknamesCSV, "\n") {
			parts := strings.Split(strings.TrimSpace(line), ",")
			if i == 0 || len(parts) != 3 || parts[1] != "has_nickname" {
				continue
			}
			name, nick := Fold(parts[0]), Fold(parts[2])
			if name == "" || nick == "" {
				continue
			}
			g, ok := groupOf[name]
			if !ok {
				g = int32(len(groupOf))
				groupOf[name] = g
			}
			addTo(name, g)
			addTo(nick, g)
		}
		nicknames = t
	})
	return nicknames
}

// nicknameID returns the id of a folded given name in the nickname table,
// or -1 when the table does not know it.
func (t *nicknameTable) nicknameID(name string) int32 {
	if v, ok := t.ids[name]; ok {
		return v
	}
	return -1
}

// related reports whether two name ids share a nickname group.
func (t *nicknameTable) related(a, b int32) bool {
	if a < 0 || b < 0 {
		return false
	}
	if a == b {
		return true
	}
	for _, x := range t.groups[a] {
		for _, y := range t.groups[b] {
			if x == y {
				return true
			}
		}
	}
	return false
}

// IsNickname reports whether two given names are the same name or one is a
// known nickname or diminutive of the other, or both are nicknames of one
// name (Bob and Robert, Bob and Rob). Case and accents are ignored.
func IsNickname(a, b string) bool {
	t := loadNicknames()
	fa, fb := Fold(a), Fold(b)
	if fa == fb && fa != "" {
		return true
	}
	return t.related(t.nicknameID(fa), t.nicknameID(fb))
}
