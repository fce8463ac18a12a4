package apierror

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
)

var errThing = errors.New("thing refused")

type busy struct{}

func (busy) Error() string             { return "busy: retry shortly" }
func (busy) RetryDelay() time.Duration { return 1500 * time.Millisecond }

var testTable = Table{
	{Match: errThing, Code: codes.InvalidArgument, Reason: InvalidOption},
	{Match: busy{}, Code: codes.ResourceExhausted, Reason: RateLimited, Message: "the server is busy"},
}

func TestTableFindsTheFirstMatchingRow(t *testing.T) {
	t.Parallel()
	st, known := testTable.Status(fmt.Errorf("handler: %w", errThing))
	require.True(t, known)
	require.Equal(t, codes.InvalidArgument, st.Code())
	require.Equal(t, InvalidOption, ReasonOf(st))
	require.Equal(t, "handler: thing refused", st.Message(), "the error's own words, which domain errors write to be shown")
	require.Empty(t, FieldOf(st))
	require.Zero(t, RetryOf(st))

	_, known = testTable.Status(errors.New("disk on fire at /var/lib/x"))
	require.False(t, known, "an error no row knows is internal")
}

func TestRetryAndParamDetails(t *testing.T) {
	t.Parallel()
	st, _ := testTable.Status(busy{})
	require.Equal(t, "the server is busy", st.Message(), "a row's message replaces the error's")
	require.Equal(t, 2*time.Second, RetryOf(st), "rounded to whole seconds")

	st, _ = testTable.Status(Paramf("outputFormat", errThing, "outputFormat %q is not one of png, jpeg, webp", "gif"))
	require.Equal(t, "outputFormat", FieldOf(st))
	require.Equal(t, InvalidOption, ReasonOf(st))
	require.Equal(t, "outputFormat", ParamOf(Param("outputFormat", errThing)))

	st = InternalStatus("rid123")
	require.Equal(t, codes.Internal, st.Code())
	require.Equal(t, "internal error (request id rid123)", st.Message())
	require.Equal(t, Internal, ReasonOf(st))
	require.Equal(t, Domain, "smartimage.enhance.v1")
}

func TestReasonsAreUpperSnakeAndUnique(t *testing.T) {
	t.Parallel()
	seen := map[Reason]bool{}
	for _, r := range Reasons {
		require.False(t, seen[r], "%s listed twice", r)
		seen[r] = true
		require.Equal(t, strings.ToUpper(string(r)), string(r))
		require.NotContains(t, string(r), " ")
	}
}
