package apiv1

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// TestAccessCoversEveryMethod walks every service the contract defines,
// so that a new method without a rule in Access fails here, before a
// server refuses to start over it; and a rule for a method that does not
// exist (a rename) fails too.
func TestAccessCoversEveryMethod(t *testing.T) {
	t.Parallel()
	services := map[string][]string{}
	protoregistry.GlobalFiles.RangeFilesByPackage("smartimage.enhance.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			sd := f.Services().Get(i)
			for j := range sd.Methods().Len() {
				services[string(sd.FullName())] = append(services[string(sd.FullName())], string(sd.Methods().Get(j).Name()))
			}
		}
		return true
	})
	require.Len(t, services, 4, "ImageService, AccountService, KeyService, UsageService")
	require.NoError(t, Access.Covers(services))
	n := 0
	for _, methods := range services {
		n += len(methods)
	}
	require.Len(t, Access, n, "every rule names a method of the contract")
	for method, rule := range Access {
		require.False(t, rule.Public && (rule.Scope != "" || rule.SessionOnly), "%s: a public method asks nothing", method)
	}
}
