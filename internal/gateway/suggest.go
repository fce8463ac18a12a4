package gateway

import "strings"

// suggest is the one name among names that name was probably meant to be:
// the same but for case, '_' or '-' (enhancementtype, image_base64); one
// or two keys away (strenght, outputFromat); or the unique name it begins
// or ends (format → outputFormat). "" when there is none, or several.
func suggest(name string, names []string) string {
	if len(name) > 64 {
		return "" // no field name is that long; and the work grows with it
	}
	n := fold(name)
	if n == "" {
		return ""
	}
	for _, c := range names {
		if fold(c) == n {
			return c
		}
	}
	// Longer names may be further off: one slip in four letters, at most 2.
	limit := min(2, max(1, len(n)/4))
	best, bestDist, ties := "", limit+1, 0
	for _, c := range names {
		switch d := editDistance(n, fold(c)); {
		case d < bestDist:
			best, bestDist, ties = c, d, 1
		case d == bestDist:
			ties++
		}
	}
	if best != "" && ties == 1 {
		return best
	}
	if len(n) < 3 {
		return ""
	}
	best, ties = "", 0
	for _, c := range names {
		if f := fold(c); strings.HasPrefix(f, n) || strings.HasSuffix(f, n) {
			best, ties = c, ties+1
		}
	}
	if ties == 1 {
		return best
	}
	return ""
}

// fold lowers name and drops '_' and '-', so that image_url, imageURL
// and image-url compare equal.
func fold(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r != '_' && r != '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// editDistance counts the insertions, deletions, substitutions and swaps
// of neighbours that turn a into b (optimal string alignment).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
