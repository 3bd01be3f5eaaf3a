namespace Gateway.Security;

/// <summary>What a rule of the ACL file allows, or refuses.</summary>
public enum AclAccess
{
    Read = 1,
    Write = 2,
    ReadWrite = Read | Write,

    /// <summary>Refuses reading and writing what it matches, whatever another rule grants.</summary>
    Deny = 4,
}

/// <summary>One <c>topic</c> or <c>pattern</c> line of the ACL file, with its line number for messages.</summary>
public sealed record AclRule(AclAccess Access, string Filter, int Line)
{
    public bool Grants(AclAccess wanted) => Access != AclAccess.Deny && (Access & wanted) == wanted;

    public override string ToString() => $"line {Line} ({Access.ToString().ToLowerInvariant()} {Filter})";
}
