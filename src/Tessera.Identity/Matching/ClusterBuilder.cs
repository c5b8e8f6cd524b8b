namespace Tessera.Identity.Matching;

/// <summary>
/// Builds person clusters from auto-link pairs with union-find, strongest pairs first, refusing any union that
/// would put two different valid NHS numbers in one cluster: a chain of plausible links (A~B, B~C) must not
/// merge two people the NHS has told apart.
/// </summary>
internal sealed class ClusterBuilder
{
    private readonly int[] parent;
    private readonly int[] size;
    private readonly string?[] nhs;

    public ClusterBuilder(IReadOnlyList<PreparedRecord> records)
    {
        parent = new int[records.Count];
        size = new int[records.Count];
        nhs = new string?[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            parent[i] = i;
            size[i] = 1;
            nhs[i] = records[i].Nhs;
        }
    }

    public int Find(int x)
    {
        while (parent[x] != x)
        {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }

        return x;
    }

    /// <summary>Joins the clusters of a and b; false when that would join two different valid NHS numbers.</summary>
    public bool TryUnion(int a, int b)
    {
        var ra = Find(a);
        var rb = Find(b);
        if (ra == rb)
        {
            return true;
        }

        if (nhs[ra] is not null && nhs[rb] is not null && nhs[ra] != nhs[rb])
        {
            return false;
        }

        if (size[ra] < size[rb])
        {
            (ra, rb) = (rb, ra);
        }

        parent[rb] = ra;
        size[ra] += size[rb];
        nhs[ra] ??= nhs[rb];
        return true;
    }

    public List<List<int>> Clusters()
    {
        var groups = new Dictionary<int, List<int>>();
        for (var i = 0; i < parent.Length; i++)
        {
            var root = Find(i);
            if (size[root] < 2)
            {
                continue;
            }

            if (!groups.TryGetValue(root, out var members))
            {
                members = [];
                groups[root] = members;
            }

            members.Add(i);
        }

        return [.. groups.Values];
    }

    public string? NhsOf(int member) => nhs[Find(member)];
}
