namespace Tessera.Identity.Matching;

/// <summary>
/// Builds person clusters from auto-link pairs with union-find, strongest pairs first, refusing any union that
/// would put two different valid NHS numbers in one cluster (a chain of plausible links A~B, B~C must not
/// merge two people the NHS has told apart) or two records a data steward said are different people.
/// </summary>
internal sealed class ClusterBuilder
{
    private readonly int[] parent;
    private readonly int[] size;
    private readonly string?[] nhs;

    /// <summary>Per cluster root, the positions its members may never be joined with (null for almost every root).</summary>
    private readonly List<int>?[] apart;

    public ClusterBuilder(IReadOnlyList<PreparedRecord> records)
        : this(records.Select(r => r.Nhs).ToList())
    {
    }

    /// <param name="validNhs">Each position's valid NHS number, or null.</param>
    public ClusterBuilder(IReadOnlyList<string?> validNhs)
    {
        var n = validNhs.Count;
        parent = new int[n];
        size = new int[n];
        nhs = new string?[n];
        apart = new List<int>?[n];
        for (var i = 0; i < n; i++)
        {
            parent[i] = i;
            size[i] = 1;
            nhs[i] = validNhs[i];
        }
    }

    /// <summary>Records that a and b are different people: their clusters are never joined.</summary>
    public void KeepApart(int a, int b)
    {
        (apart[Find(a)] ??= []).Add(b);
        (apart[Find(b)] ??= []).Add(a);
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

    /// <summary>Whether the clusters of a and b may be joined: no two valid NHS numbers, no steward's decision against it.</summary>
    public bool CanUnion(int a, int b)
    {
        var ra = Find(a);
        var rb = Find(b);
        if (ra == rb)
        {
            return true;
        }

        return (nhs[ra] is null || nhs[rb] is null || nhs[ra] == nhs[rb]) && !Excludes(ra, rb) && !Excludes(rb, ra);
    }

    /// <summary>Joins the clusters of a and b; false when <see cref="CanUnion"/> refuses.</summary>
    public bool TryUnion(int a, int b)
    {
        if (!CanUnion(a, b))
        {
            return false;
        }

        var ra = Find(a);
        var rb = Find(b);
        if (ra == rb)
        {
            return true;
        }

        if (size[ra] < size[rb])
        {
            (ra, rb) = (rb, ra);
        }

        parent[rb] = ra;
        size[ra] += size[rb];
        nhs[ra] ??= nhs[rb];
        if (apart[rb] is { } moved)
        {
            (apart[ra] ??= []).AddRange(moved);
            apart[rb] = null;
        }

        return true;
    }

    /// <summary>Clusters of two or more records.</summary>
    public List<List<int>> Clusters() => Groups(minimumSize: 2);

    /// <summary>Every cluster, single records included, each in position order, ordered by its first position.</summary>
    public List<List<int>> Groups(int minimumSize = 1)
    {
        var groups = new Dictionary<int, List<int>>();
        var order = new List<List<int>>();
        for (var i = 0; i < parent.Length; i++)
        {
            var root = Find(i);
            if (size[root] < minimumSize)
            {
                continue;
            }

            if (!groups.TryGetValue(root, out var members))
            {
                members = [];
                groups[root] = members;
                order.Add(members);
            }

            members.Add(i);
        }

        return order;
    }

    public string? NhsOf(int member) => nhs[Find(member)];

    private bool Excludes(int root, int otherRoot) => apart[root] is { } list && list.Exists(p => Find(p) == otherRoot);
}
