package config

// Kind is the type of an option's value. The command layer gives each flag
// the type of its option's kind (a Bool flag stands alone: --once is
// --once=true), and Parse reads the value as that kind.
type Kind int

// The kinds of option values.
const (
	String   Kind = iota // text, read as given (trimmed where Parse says)
	Bool                 // true or false, as strconv.ParseBool reads them
	Int                  // a whole number
	Duration             // a Go duration such as 500ms, 1s or 72h
	List                 // comma-separated values
)

// String names the kind: string, bool, int, duration or list.
func (k Kind) String() string {
	switch k {
	case Bool:
		return "bool"
	case Int:
		return "int"
	case Duration:
		return "duration"
	case List:
		return "list"
	default:
		return "string"
	}
}
