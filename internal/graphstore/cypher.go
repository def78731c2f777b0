package graphstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// Limits of Cypher.
const (
	MaxCypherTimeout     = 30 * time.Second // a longer CypherQuery.Timeout is capped
	DefaultCypherTimeout = 10 * time.Second
	MaxCypherLimit       = 10000 // a larger CypherQuery.Limit is capped
	DefaultCypherLimit   = 1000
	MaxCypherQueryBytes  = 16 << 10
	MaxCypherParamsBytes = 1 << 20 // of the params' JSON text
	MaxCypherColumns     = 16
)

// cypherGrace is how much longer than the statement timeout the context of
// a Cypher query lives, so that the server's timeout, with its clear error,
// normally comes first and a lost connection still ends the call.
const cypherGrace = 2 * time.Second

var (
	// ErrCypherInvalid wraps every refusal of a Cypher query: validation
	// problems, writes, syntax and type errors reported by AGE, and a RETURN
	// whose number of columns differs from CypherQuery.Columns. The message
	// says what is wrong (with a character position when known) but never
	// repeats the query.
	ErrCypherInvalid = errors.New("invalid Cypher query")
	// ErrCypherTimeout is returned when a Cypher query ran out of time: its
	// statement timeout or the context's deadline.
	ErrCypherTimeout = errors.New("the Cypher query ran out of time")
)

// errCypherRollback makes readActive roll the transaction back once the rows
// are read: see runCypher.
var errCypherRollback = errors.New("cypher: roll back")

// CypherQuery is a read-only Cypher query on the active graph.
type CypherQuery struct {
	// Query is the Cypher text (at most MaxCypherQueryBytes of valid UTF-8,
	// one statement, no writes; see Cypher for all the rules). Parameters
	// are written $name.
	Query string
	// Params are the values of the query's $name parameters. They must
	// marshal to JSON; they are passed to AGE as one agtype map.
	Params map[string]any
	// Columns names the RETURN columns in order: 1 to MaxCypherColumns
	// distinct names matching ^[a-z_][a-z0-9_]{0,30}$. Their number must be
	// the number of columns the query returns.
	Columns []string
	// Timeout bounds the query's run time: 0 means DefaultCypherTimeout,
	// longer than MaxCypherTimeout means MaxCypherTimeout.
	Timeout time.Duration
	// Limit is the most rows returned: 0 means DefaultCypherLimit, more
	// than MaxCypherLimit means MaxCypherLimit.
	Limit int
}

// CypherResult holds the rows of a Cypher query.
type CypherResult struct {
	Columns []string
	// Rows holds one JSON value per column: AGE's agtype rendered as JSON.
	// A vertex is {"id", "label", "properties"}, an edge {"id", "label",
	// "start_id", "end_id", "properties"}, a path the array of its vertices
	// and edges; Cypher null (and a missing property) is null. Floats that
	// JSON cannot hold are the strings "NaN", "Infinity" and "-Infinity".
	Rows [][]json.RawMessage
	// Truncated is true when the query had more rows than the limit.
	Truncated bool
}

var (
	cypherColumnRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,30}$`)
	// graphNameRE is what a generation's graph name may look like before it
	// is put in SQL (they are heimdall_<id>).
	graphNameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// Cypher runs a read-only Cypher query on the active graph for an analyst
// and returns its rows, each cell as JSON.
//
// The query is refused with ErrCypherInvalid, before anything runs, when:
//   - it is empty, longer than MaxCypherQueryBytes, not valid UTF-8 or holds
//     a NUL byte;
//   - it holds a dollar-quote delimiter ($$, $tag$: a '$', letters, digits or
//     '_', and a '$') anywhere, even inside a string literal, since the query
//     is sent to PostgreSQL inside a dollar-quoted string;
//   - outside string literals, quoted names and comments (scanned with the
//     rules of AGE's own scanner):
//   - a ';' appears (one statement only);
//   - a '$' does not start a parameter name ($ then an ASCII letter or '_',
//     then ASCII letters, digits or '_');
//   - a writing or procedure clause appears: CREATE, MERGE, SET, DELETE,
//     DETACH, REMOVE, CALL, YIELD, and EXPLAIN, in any case, also between
//     backticks (AGE 1.5 takes `SET` for the SET clause; such names cannot
//     be variables or properties in AGE anyway: use n['set']);
//   - a function is called that is not one of Cypher's built-in functions
//     (cypherFunctions): AGE resolves a qualified name (schema.function) to
//     any PostgreSQL function, and a few of its own age_* functions are not
//     meant for queries;
//   - the parameters do not marshal to JSON (or exceed MaxCypherParamsBytes),
//     or Columns, Timeout or Limit are out of range.
//
// The query runs in a read-only repeatable-read transaction on the active
// generation, with statement_timeout set to the timeout, and the transaction
// is always rolled back, never committed: AGE 1.5 refuses CREATE and MERGE
// in a read-only transaction but executes SET, REMOVE and DELETE, so the
// rollback is what keeps a write the scan would miss from lasting. Errors
// AGE reports about the query (syntax, types, unknown names, writes) come
// back as ErrCypherInvalid with AGE's message, minus the text it quotes from
// the query; a timeout is ErrCypherTimeout.
func (s *Store) Cypher(ctx context.Context, q CypherQuery) (CypherResult, error) {
	if err := checkCypherText(q.Query); err != nil {
		return CypherResult{}, err
	}
	return s.runCypher(ctx, q)
}

// runCypher runs q after the checks of everything but its text (the tests use
// it to show what the transaction alone does with a write).
func (s *Store) runCypher(ctx context.Context, q CypherQuery) (CypherResult, error) {
	if err := checkCypherColumns(q.Columns); err != nil {
		return CypherResult{}, err
	}
	timeout, limit, err := cypherBounds(q.Timeout, q.Limit)
	if err != nil {
		return CypherResult{}, err
	}
	params, err := cypherParams(q.Params)
	if err != nil {
		return CypherResult{}, err
	}
	tag, err := dollarTag()
	if err != nil {
		return CypherResult{}, err
	}
	if strings.Contains(q.Query, tag) { // checkCypherText refuses any tag; this one is random
		return CypherResult{}, cypherInvalid("the query contains a dollar-quote delimiter")
	}
	res := CypherResult{Columns: append([]string(nil), q.Columns...), Rows: [][]json.RawMessage{}}
	runCtx, cancel := context.WithTimeout(ctx, timeout+cypherGrace)
	defer cancel()
	var prefixChars int
	err = s.readActive(runCtx, func(tx pgx.Tx, gen graph.Generation) error {
		if !graphNameRE.MatchString(gen.Graph) {
			return fmt.Errorf("the active graph has an unexpected name")
		}
		ms := max(timeout.Milliseconds(), 1)
		if _, err := tx.Exec(runCtx, "SELECT pg_catalog.set_config('statement_timeout', $1, true)", strconv.FormatInt(ms, 10)); err != nil {
			return fmt.Errorf("setting the statement timeout: %w", err)
		}
		var sql string
		sql, prefixChars = cypherSQL(gen.Graph, tag, q.Query, len(q.Columns))
		rows, err := tx.Query(runCtx, sql, pgx.QueryExecModeDescribeExec, params, int64(limit)+1)
		if err != nil {
			return err
		}
		defer rows.Close()
		cells := make([]*string, len(q.Columns))
		dest := make([]any, len(cells))
		for i := range cells {
			dest[i] = &cells[i]
		}
		for rows.Next() {
			if len(res.Rows) == limit {
				res.Truncated = true
				break
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			row := make([]json.RawMessage, len(cells))
			for i, c := range cells {
				if c == nil {
					row[i] = json.RawMessage("null")
					continue
				}
				if row[i], err = agtypeJSON(*c); err != nil {
					return fmt.Errorf("column %d: %w", i+1, err)
				}
			}
			res.Rows = append(res.Rows, row)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return errCypherRollback // never commit: see Cypher
	})
	if errors.Is(err, errCypherRollback) {
		return res, nil
	}
	return CypherResult{}, cypherError(ctx, runCtx, err, timeout, prefixChars, q.Query)
}

// cypherSQL builds the statement: the query dollar-quoted with tag, $1 the
// params, $2 the row limit. It returns the number of characters before the
// query, to map AGE's error positions onto it.
func cypherSQL(graphName, tag, query string, columns int) (string, int) {
	var sel, defs strings.Builder
	for i := range columns {
		if i > 0 {
			sel.WriteString(", ")
			defs.WriteString(", ")
		}
		fmt.Fprintf(&sel, "ag_catalog.agtype_out(c%d)::text", i+1)
		fmt.Fprintf(&defs, "c%d ag_catalog.agtype", i+1)
	}
	prefix := "SELECT " + sel.String() + " FROM ag_catalog.cypher(" + quoteLiteral(graphName) + ", " + tag
	return prefix + query + tag + ", $1) AS (" + defs.String() + ") LIMIT $2", utf8.RuneCountInString(prefix)
}

// dollarTag returns a fresh dollar-quote delimiter, $cypher_<random>$.
func dollarTag() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a dollar-quote tag: %w", err)
	}
	return "$cypher_" + hex.EncodeToString(b[:]) + "$", nil
}

func cypherInvalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCypherInvalid, fmt.Sprintf(format, args...))
}

func checkCypherColumns(cols []string) error {
	if len(cols) < 1 || len(cols) > MaxCypherColumns {
		return cypherInvalid("name 1 to %d result columns", MaxCypherColumns)
	}
	seen := make(map[string]bool, len(cols))
	for i, c := range cols {
		if !cypherColumnRE.MatchString(c) {
			return cypherInvalid("column %d: a name is a lowercase letter or '_' then up to 30 lowercase letters, digits or '_'", i+1)
		}
		if seen[c] {
			return cypherInvalid("column %d: the name is used twice", i+1)
		}
		seen[c] = true
	}
	return nil
}

func cypherBounds(timeout time.Duration, limit int) (time.Duration, int, error) {
	switch {
	case timeout < 0:
		return 0, 0, cypherInvalid("the timeout is negative")
	case timeout == 0:
		timeout = DefaultCypherTimeout
	case timeout > MaxCypherTimeout:
		timeout = MaxCypherTimeout
	}
	switch {
	case limit < 0:
		return 0, 0, cypherInvalid("the limit is negative")
	case limit == 0:
		limit = DefaultCypherLimit
	case limit > MaxCypherLimit:
		limit = MaxCypherLimit
	}
	return timeout, limit, nil
}

// cypherParams returns the JSON text of the params map, AGE's agtype input.
func cypherParams(p map[string]any) (string, error) {
	if p == nil {
		return "{}", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", cypherInvalid("the parameters do not marshal to JSON")
	}
	if len(b) > MaxCypherParamsBytes {
		return "", cypherInvalid("the parameters exceed %d bytes of JSON", MaxCypherParamsBytes)
	}
	return string(b), nil
}

// cypherError turns an error of the query's transaction into the error of
// Cypher.
func cypherError(parent, runCtx context.Context, err error, timeout time.Duration, prefixChars int, query string) error {
	if errors.Is(err, ErrNoActiveGeneration) {
		return fmt.Errorf("running a Cypher query: %w", err)
	}
	if ctxErr := parent.Err(); errors.Is(ctxErr, context.Canceled) {
		return fmt.Errorf("running a Cypher query: %w", ctxErr)
	}
	if parent.Err() != nil || runCtx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrCypherTimeout, context.DeadlineExceeded)
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return fmt.Errorf("running a Cypher query: %w", err)
	}
	at := ""
	if pos := int(pg.Position) - prefixChars; pg.Position > 0 && pos >= 1 && pos <= utf8.RuneCountInString(query)+1 {
		at = fmt.Sprintf(" (at character %d of the query)", pos)
	}
	switch {
	case pg.Code == "57014" && strings.Contains(pg.Message, "statement timeout"):
		return fmt.Errorf("%w (statement timeout %v)", ErrCypherTimeout, timeout)
	case pg.Code == "25006": // read_only_sql_transaction
		return cypherInvalid("the query tries to write; Cypher queries are read-only%s", at)
	case pg.Code == "42804" && strings.Contains(pg.Message, "column definition list"):
		return cypherInvalid("the query returns a different number of columns than Columns names")
	case pg.Code == "42703": // AGE: "could not find rte for <name>", a name from the query
		return cypherInvalid("the query uses an undefined variable%s", at)
	case strings.HasPrefix(pg.Code, "42"), strings.HasPrefix(pg.Code, "22"), strings.HasPrefix(pg.Code, "0A"),
		strings.HasPrefix(pg.Code, "2B"), strings.HasPrefix(pg.Code, "3F"), pg.Code == "XX000":
		return cypherInvalid("%s%s", redactAGEMessage(pg.Message), at)
	}
	return fmt.Errorf("running a Cypher query: %s (SQLSTATE %s)", redactAGEMessage(pg.Message), pg.Code)
}

// redactAGEMessage drops the query text AGE quotes in its messages: syntax
// errors end with `at or near "<the rest of the query>"`, which may hold the
// analyst's literals (values).
func redactAGEMessage(msg string) string {
	if i := strings.Index(msg, ` at or near "`); i >= 0 {
		msg = msg[:i]
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

// cypherWriteClauses are refused wherever they appear unquoted.
var cypherWriteClauses = map[string]bool{
	"create": true, "merge": true, "set": true, "delete": true, "detach": true, "remove": true,
	"call": true, "yield": true, "explain": true,
}

// cypherKeywords are AGE's reserved words (cypher_kwlist.h, plus call and
// yield): one followed by '(' is syntax, not a function call.
var cypherKeywords = map[string]bool{
	"all": true, "analyze": true, "and": true, "as": true, "asc": true, "ascending": true, "by": true,
	"call": true, "case": true, "coalesce": true, "contains": true, "create": true, "delete": true,
	"desc": true, "descending": true, "detach": true, "distinct": true, "else": true, "end": true,
	"ends": true, "exists": true, "explain": true, "false": true, "in": true, "is": true, "limit": true,
	"match": true, "merge": true, "not": true, "null": true, "optional": true, "or": true, "order": true,
	"remove": true, "return": true, "set": true, "skip": true, "starts": true, "then": true, "true": true,
	"union": true, "unwind": true, "verbose": true, "when": true, "where": true, "with": true,
	"xor": true, "yield": true,
}

// cypherFunctions are the functions a query may call, lowercase: Cypher's
// built-ins as AGE 1.5 has them (an unqualified name n resolves to
// ag_catalog.age_<n>, but for count). AGE's other age_* functions are
// internal (vle, unnest, prepare_cypher, ...) or write (create_barbell_graph)
// and are refused; TestCypherFunctionsExist keeps this list and the
// database in step.
var cypherFunctions = map[string]bool{
	// scalar
	"id": true, "start_id": true, "end_id": true, "startnode": true, "endnode": true, "type": true,
	"label": true, "labels": true, "properties": true, "keys": true, "nodes": true, "relationships": true,
	"length": true, "size": true, "head": true, "last": true, "tail": true, "range": true, "reverse": true,
	"isempty": true, "timestamp": true, "rand": true, "exists": true,
	"toboolean": true, "tobooleanlist": true, "tofloat": true, "tofloatlist": true, "tointeger": true,
	"tointegerlist": true, "tostring": true, "tostringlist": true,
	// string
	"tolower": true, "toupper": true, "trim": true, "ltrim": true, "rtrim": true, "left": true,
	"right": true, "substring": true, "replace": true, "split": true,
	// numeric
	"abs": true, "ceil": true, "floor": true, "round": true, "sign": true, "sqrt": true, "exp": true,
	"log": true, "log10": true, "e": true, "pi": true, "sin": true, "cos": true, "tan": true, "cot": true,
	"asin": true, "acos": true, "atan": true, "atan2": true, "degrees": true, "radians": true,
	// aggregates
	"count": true, "sum": true, "avg": true, "min": true, "max": true, "collect": true, "stdev": true,
	"stdevp": true, "percentilecont": true, "percentiledisc": true,
}

// checkCypherText applies the text rules of Cypher (see there).
func checkCypherText(q string) error {
	switch {
	case strings.TrimSpace(q) == "":
		return cypherInvalid("the query is empty")
	case len(q) > MaxCypherQueryBytes:
		return cypherInvalid("the query is longer than %d bytes", MaxCypherQueryBytes)
	case !utf8.ValidString(q):
		return cypherInvalid("the query is not valid UTF-8")
	case strings.IndexByte(q, 0) >= 0:
		return cypherInvalid("the query contains a NUL byte")
	}
	if i := dollarQuoteDelimiter(q); i >= 0 {
		return cypherInvalid("the query contains a dollar-quote delimiter such as $$ (at character %d of the query)", charPos(q, i))
	}
	toks, err := scanCypher(q)
	if err != nil {
		return err
	}
	for k, t := range toks {
		// AGE 1.5 looks names up as keywords whether quoted or not:
		// `SET` is the SET clause.
		if t.kind != tokIdent && t.kind != tokQuoted {
			continue
		}
		name := asciiLower(t.text)
		if cypherWriteClauses[name] {
			return cypherInvalid("%s is not allowed: Cypher queries are read-only (at character %d of the query)", strings.ToUpper(name), charPos(q, t.pos))
		}
		if k+1 == len(toks) || !toks[k+1].is("(") {
			continue
		}
		if k > 0 && toks[k-1].is(".") {
			return cypherInvalid("qualified function calls (schema.function) are not allowed (at character %d of the query)", charPos(q, t.pos))
		}
		if cypherKeywords[name] {
			continue
		}
		if !cypherFunctions[name] {
			return cypherInvalid("only Cypher's built-in functions may be called (at character %d of the query)", charPos(q, t.pos))
		}
	}
	return nil
}

// dollarQuoteDelimiter returns the offset of the first $$ or $tag$ in q, or
// -1.
func dollarQuoteDelimiter(q string) int {
	for i := 0; i < len(q); i++ {
		if q[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(q) && (isIdentCont(q[j]) && q[j] != '$') {
			j++
		}
		if j < len(q) && q[j] == '$' {
			return i
		}
	}
	return -1
}

func charPos(q string, byteOff int) int { return utf8.RuneCountInString(q[:byteOff]) + 1 }

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return s // never a keyword or a built-in function
		}
	}
	return strings.ToLower(s)
}

type tokKind int

const (
	tokIdent  tokKind = iota // unquoted name or keyword
	tokQuoted                // `quoted name`
	tokParam                 // $name
	tokNumber
	tokString
	tokPunct
)

type cypherToken struct {
	kind tokKind
	text string // name, quoted name's content or punctuation; empty for literals
	pos  int    // byte offset in the query
}

func (t cypherToken) is(p string) bool { return t.kind == tokPunct && t.text == p }

// AGE's scanner (ag_scanner.l): identifiers start with [A-Za-z_] or a byte
// >= 0x80 and go on with those, digits and '$'.
func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// scanCypher splits q into tokens as AGE's scanner does, so that a keyword
// or a call is seen exactly where AGE sees one, and enforces the rules on
// ';' and '$'. It skips whitespace and comments.
func scanCypher(q string) ([]cypherToken, error) {
	var toks []cypherToken
	at := func(i int) int { return charPos(q, i) }
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
			i++
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return nil, cypherInvalid("unterminated /* comment (at character %d of the query)", at(i))
			}
			i += 2 + end + 2
		case c == '/' && i+1 < len(q) && q[i+1] == '/':
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				if q[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(q) {
				return nil, cypherInvalid("unterminated string literal (at character %d of the query)", at(i))
			}
			toks = append(toks, cypherToken{kind: tokString, pos: i})
			i = j + 1
		case c == '`':
			var name strings.Builder
			j := i + 1
			for {
				if j >= len(q) {
					return nil, cypherInvalid("unterminated quoted name (at character %d of the query)", at(i))
				}
				if q[j] == '`' {
					if j+1 < len(q) && q[j+1] == '`' {
						name.WriteByte('`')
						j += 2
						continue
					}
					break
				}
				name.WriteByte(q[j])
				j++
			}
			toks = append(toks, cypherToken{kind: tokQuoted, text: name.String(), pos: i})
			i = j + 1
		case isDigit(c) || c == '.' && i+1 < len(q) && isDigit(q[i+1]):
			j, ok := scanNumber(q, i)
			if !ok {
				return nil, cypherInvalid("invalid number literal (at character %d of the query)", at(i))
			}
			toks = append(toks, cypherToken{kind: tokNumber, pos: i})
			i = j
		case c == '.' && i+1 < len(q) && q[i+1] == '.':
			toks = append(toks, cypherToken{kind: tokPunct, text: "..", pos: i})
			i += 2
		case c == '$':
			j := i + 1
			if j < len(q) && isIdentStart(q[j]) && q[j] < 0x80 {
				for j < len(q) && isIdentCont(q[j]) && q[j] != '$' && q[j] < 0x80 {
					j++
				}
				if j == len(q) || !isIdentCont(q[j]) {
					toks = append(toks, cypherToken{kind: tokParam, text: q[i+1 : j], pos: i})
					i = j
					continue
				}
			}
			return nil, cypherInvalid("a '$' may only start a parameter name: $ then ASCII letters, digits or '_' (at character %d of the query)", at(i))
		case isIdentStart(c):
			j := i + 1
			for j < len(q) && isIdentCont(q[j]) {
				j++
			}
			if k := strings.IndexByte(q[i:j], '$'); k >= 0 {
				return nil, cypherInvalid("a '$' may only start a parameter name (at character %d of the query)", at(i+k))
			}
			toks = append(toks, cypherToken{kind: tokIdent, text: q[i:j], pos: i})
			i = j
		case c == ';':
			return nil, cypherInvalid("only one statement is allowed: ';' (at character %d of the query)", at(i))
		default:
			toks = append(toks, cypherToken{kind: tokPunct, text: q[i : i+1], pos: i})
			i++
		}
	}
	return toks, nil
}

// scanNumber returns the end of the number literal at q[i] as AGE scans it:
// 0x hex, digits, decimals (1., 1.5, .5; but 1..2 is 1 then ..) and an
// exponent. ok is false where AGE reports an invalid literal.
func scanNumber(q string, i int) (int, bool) {
	j := i
	if q[j] == '0' && j+1 < len(q) && (q[j+1] == 'x' || q[j+1] == 'X') {
		j += 2
		start := j
		for j < len(q) && isHexDigit(q[j]) {
			j++
		}
		return j, j > start
	}
	for j < len(q) && isDigit(q[j]) {
		j++
	}
	if j < len(q) && q[j] == '.' {
		if j+1 < len(q) && q[j+1] == '.' {
			return j, true // a range: 1..2
		}
		j++
		for j < len(q) && isDigit(q[j]) {
			j++
		}
	}
	if j < len(q) && (q[j] == 'e' || q[j] == 'E') {
		j++
		if j < len(q) && (q[j] == '+' || q[j] == '-') {
			j++
		}
		start := j
		for j < len(q) && isDigit(q[j]) {
			j++
		}
		return j, j > start
	}
	return j, true
}

// agtypeJSON converts agtype_out text to JSON: it drops the ::vertex,
// ::edge, ::path and ::numeric annotations and turns the floats NaN,
// Infinity and -Infinity into strings, outside string values only.
func agtypeJSON(s string) (json.RawMessage, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, errors.New("unterminated string in agtype")
			}
			out = append(out, s[i:j+1]...)
			i = j + 1
		case c == ':' && i+1 < len(s) && s[i+1] == ':':
			j := i + 2
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			switch s[i+2 : j] {
			case "vertex", "edge", "path", "numeric":
			default:
				return nil, errors.New("unknown agtype annotation")
			}
			i = j
		case c == '-' && strings.HasPrefix(s[i+1:], "Infinity"):
			out = append(out, `"-Infinity"`...)
			i += 1 + len("Infinity")
		case c == '-' || isDigit(c):
			j := i + 1
			for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '+' || s[j] == '-') {
				j++
			}
			out = append(out, s[i:j]...)
			i = j
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			switch w := s[i:j]; w {
			case "NaN", "Infinity":
				out = append(out, '"')
				out = append(out, w...)
				out = append(out, '"')
			default: // true, false, null; anything else fails json.Valid
				out = append(out, w...)
			}
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	if !json.Valid(out) {
		return nil, errors.New("agtype value is not valid JSON once converted")
	}
	return out, nil
}
