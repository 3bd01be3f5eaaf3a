using System.Reflection;
using Gateway.Core.Diagnostics;

namespace Gateway.UnitTests.Diagnostics;

public sealed class EventIdsTests
{
    /// <summary>
    /// Operators filter logs on these numbers, and several branches add to the list at once: two
    /// events sharing a number (as 407 once did) would be told apart by no filter.
    /// </summary>
    [Fact]
    public void Every_log_event_has_a_number_of_its_own()
    {
        var ids = typeof(EventIds).GetFields(BindingFlags.Public | BindingFlags.Static)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .Select(f => (f.Name, Id: (int)f.GetRawConstantValue()!))
            .ToList();

        var shared = ids.GroupBy(e => e.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(e => e.Name))}");
        Assert.Empty(shared);
        Assert.True(ids.Count > 10, $"only {ids.Count} event ids found");
    }
}
