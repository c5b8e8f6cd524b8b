using Tessera.Demo.Randomness;

namespace Tessera.Demo.People;

/// <summary>Which name lists a person's names are drawn from; a coarse proxy that keeps names plausible for ethnicity.</summary>
internal enum NameGroup
{
    English,
    Irish,
    EuropeanOther,
    Indian,
    Pakistani,
    Bangladeshi,
    Caribbean,
    African,
    Chinese,
    Other,
}

/// <summary>
/// Frequency-ranked name lists (common names in England by sex and birth cohort, with surname lists for
/// the larger communities). Ranked lists get Zipf-like weights so the commonest names dominate as they do.
/// </summary>
internal static class NameData
{
    private static readonly string[] EnglishSurnames =
    [
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
        "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
        "Lewis", "Harris", "Clarke", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
        "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James",
        "Scott", "Phillips", "Watson", "Davis", "Parker", "Price", "Bennett", "Young", "Griffiths", "Mitchell",
        "Cook", "Carter", "Richardson", "Bailey", "Collins", "Bell", "Shaw", "Miller", "Cox", "Richards",
        "Marshall", "Anderson", "Simpson", "Ellis", "Adams", "Wilkinson", "Foster", "Chapman", "Powell", "Webb",
        "Rogers", "Gray", "Mason", "Hunt", "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills",
        "Barnes", "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Dixon",
        "Harvey", "Graham", "Pearson", "Ross", "Cole", "Gibson", "Wallace", "Fletcher", "Reynolds", "Hudson",
    ];

    private static readonly string[] IrishSurnames = ["Murphy", "Kelly", "O'Brien", "Byrne", "Ryan", "Walsh", "O'Connor", "O'Neill", "Doyle", "McCarthy", "Gallagher", "Quinn"];
    private static readonly string[] EuropeanSurnames = ["Nowak", "Kowalski", "Wisniewski", "Kaminski", "Popescu", "Ionescu", "Rossi", "Silva", "Santos", "Novak", "Petrov", "Kazlauskas", "Muller", "Ferreira"];
    private static readonly string[] IndianSurnames = ["Patel", "Shah", "Singh", "Kaur", "Sharma", "Gill", "Mistry", "Parmar", "Joshi", "Kumar", "Sandhu", "Mehta"];
    private static readonly string[] PakistaniSurnames = ["Khan", "Ahmed", "Ali", "Hussain", "Iqbal", "Akhtar", "Mahmood", "Butt", "Raja", "Shah", "Riaz", "Aslam"];
    private static readonly string[] BangladeshiSurnames = ["Begum", "Rahman", "Uddin", "Islam", "Miah", "Chowdhury", "Ahmed", "Hoque", "Ali", "Khatun"];
    private static readonly string[] CaribbeanSurnames = ["Campbell", "Brown", "Williams", "Thomas", "Francis", "Grant", "Clarke", "Edwards", "Reid", "Henry", "Johnson", "Morgan"];
    private static readonly string[] AfricanSurnames = ["Okafor", "Adeyemi", "Mensah", "Osei", "Mohamed", "Abdi", "Okonkwo", "Asante", "Boateng", "Adebayo", "Ibrahim", "Nwosu"];
    private static readonly string[] ChineseSurnames = ["Wang", "Li", "Zhang", "Chen", "Liu", "Wong", "Chan", "Cheung", "Lam", "Ng", "Huang", "Lin"];
    private static readonly string[] OtherSurnames = ["Mohammed", "Ahmadi", "Hassan", "Karimi", "Nguyen", "Tran", "Kim", "Ibrahim", "Yilmaz", "Haddad", "Rezaei", "Perera"];

    private static readonly string[] MaleBefore1960 = ["John", "David", "Michael", "Peter", "Robert", "Anthony", "Brian", "Alan", "William", "James", "Kenneth", "Keith", "Roger", "Colin", "Raymond", "Dennis", "Geoffrey", "Derek", "Barry", "Terence", "Ronald", "Frank"];
    private static readonly string[] Male1960To1994 = ["David", "Paul", "Mark", "Andrew", "Richard", "Stephen", "Christopher", "Michael", "Matthew", "Daniel", "James", "Simon", "Lee", "Darren", "Gary", "Neil", "Jason", "Craig", "Stuart", "Thomas", "Adam", "Jonathan"];
    private static readonly string[] MaleFrom1995 = ["Oliver", "Jack", "Harry", "George", "Noah", "Charlie", "Jacob", "Alfie", "Freddie", "Oscar", "Leo", "Thomas", "Joshua", "James", "William", "Samuel", "Henry", "Archie", "Ethan", "Theo", "Arthur", "Logan"];
    private static readonly string[] FemaleBefore1960 = ["Margaret", "Patricia", "Susan", "Barbara", "Christine", "Mary", "Jean", "Valerie", "Sandra", "Janet", "Pauline", "Carol", "Linda", "Joan", "Brenda", "Sheila", "Maureen", "Elizabeth", "Ann", "Dorothy", "Irene", "Doreen"];
    private static readonly string[] Female1960To1994 = ["Sarah", "Claire", "Emma", "Nicola", "Karen", "Helen", "Lisa", "Rachel", "Julie", "Joanne", "Michelle", "Louise", "Kelly", "Laura", "Victoria", "Rebecca", "Amanda", "Deborah", "Samantha", "Jennifer", "Katherine", "Gemma"];
    private static readonly string[] FemaleFrom1995 = ["Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophia", "Grace", "Lily", "Freya", "Mia", "Ella", "Isabella", "Poppy", "Charlotte", "Evie", "Chloe", "Jessica", "Ruby", "Sophie", "Holly", "Florence", "Millie"];

    private static readonly string[] SouthAsianMale = ["Mohammed", "Muhammad", "Ahmed", "Ali", "Imran", "Amir", "Raj", "Arjun", "Sanjay", "Vikram", "Hassan", "Zain", "Ibrahim", "Rahul", "Harjit", "Yusuf", "Bilal", "Ravi"];
    private static readonly string[] SouthAsianFemale = ["Fatima", "Aisha", "Amina", "Priya", "Anjali", "Nadia", "Sana", "Zara", "Ayesha", "Shabana", "Parveen", "Sunita", "Simran", "Maryam", "Hina", "Rukhsana"];
    private static readonly string[] BlackMale = ["Kwame", "Emmanuel", "Samuel", "Daniel", "Joseph", "Tunde", "Chidi", "Kofi", "Abdi", "Mohamed", "Marcus", "Tyrone", "Jerome", "Andre", "David", "Michael"];
    private static readonly string[] BlackFemale = ["Grace", "Blessing", "Esther", "Abena", "Ngozi", "Chioma", "Amara", "Faith", "Marcia", "Beverley", "Shanice", "Hodan", "Precious", "Ruth", "Joy"];
    private static readonly string[] ChineseMale = ["Wei", "Jun", "Hao", "Ming", "Kevin", "Jason", "Daniel", "Chen", "Tony", "Eric"];
    private static readonly string[] ChineseFemale = ["Mei", "Li", "Xin", "Yan", "Jenny", "Grace", "Amy", "Ling", "Hui", "Vivian"];
    private static readonly string[] EuropeanMale = ["Piotr", "Tomasz", "Andrei", "Marco", "Jakub", "Lukas", "Mateusz", "Luca", "Joao", "Adam"];
    private static readonly string[] EuropeanFemale = ["Anna", "Agnieszka", "Maria", "Elena", "Katarzyna", "Ana", "Monika", "Giulia", "Ioana", "Eva"];
    private static readonly string[] OtherMale = ["Omar", "Ali", "Reza", "Karim", "Minh", "Hyun", "Mustafa", "Yusuf", "Amir", "Sami"];
    private static readonly string[] OtherFemale = ["Leila", "Mariam", "Noor", "Lan", "Soo", "Dina", "Yasmin", "Zainab", "Layla", "Sara"];

    private static readonly Dictionary<string[], WeightedTable<string>> Tables = new(ReferenceEqualityComparer.Instance);

    static NameData()
    {
        foreach (var list in new[]
                 {
                     EnglishSurnames, IrishSurnames, EuropeanSurnames, IndianSurnames, PakistaniSurnames, BangladeshiSurnames,
                     CaribbeanSurnames, AfricanSurnames, ChineseSurnames, OtherSurnames, MaleBefore1960, Male1960To1994, MaleFrom1995,
                     FemaleBefore1960, Female1960To1994, FemaleFrom1995, SouthAsianMale, SouthAsianFemale, BlackMale, BlackFemale,
                     ChineseMale, ChineseFemale, EuropeanMale, EuropeanFemale, OtherMale, OtherFemale,
                 })
        {
            // Zipf-like: rank r gets weight 1/(r+4), flatter than pure Zipf as real name distributions are.
            Tables[list] = new WeightedTable<string>(list.Select((name, rank) => (name, 1.0 / (rank + 4))));
        }
    }

    public static string Surname(DemoRandom rng, NameGroup group) => rng.Pick(Tables[group switch
    {
        NameGroup.Irish => IrishSurnames,
        NameGroup.EuropeanOther => EuropeanSurnames,
        NameGroup.Indian => IndianSurnames,
        NameGroup.Pakistani => PakistaniSurnames,
        NameGroup.Bangladeshi => BangladeshiSurnames,
        NameGroup.Caribbean => CaribbeanSurnames,
        NameGroup.African => AfricanSurnames,
        NameGroup.Chinese => ChineseSurnames,
        NameGroup.Other => OtherSurnames,
        _ => EnglishSurnames,
    }]);

    /// <summary>An English surname, used for spouses' names, staff, and mixed families.</summary>
    public static string EnglishSurname(DemoRandom rng) => rng.Pick(Tables[EnglishSurnames]);

    public static string GivenName(DemoRandom rng, bool male, int birthYear, NameGroup group)
    {
        // Second- and third-generation families often choose names from the wider English pool.
        if (group is not (NameGroup.English or NameGroup.Irish) && birthYear >= 1990 && rng.Chance(0.3))
        {
            group = NameGroup.English;
        }

        var list = group switch
        {
            NameGroup.Indian or NameGroup.Pakistani or NameGroup.Bangladeshi => male ? SouthAsianMale : SouthAsianFemale,
            NameGroup.Caribbean or NameGroup.African => male ? BlackMale : BlackFemale,
            NameGroup.Chinese => male ? ChineseMale : ChineseFemale,
            NameGroup.EuropeanOther => male ? EuropeanMale : EuropeanFemale,
            NameGroup.Other => male ? OtherMale : OtherFemale,
            _ when birthYear < 1960 => male ? MaleBefore1960 : FemaleBefore1960,
            _ when birthYear < 1995 => male ? Male1960To1994 : Female1960To1994,
            _ => male ? MaleFrom1995 : FemaleFrom1995,
        };
        return rng.Pick(Tables[list]);
    }
}
