"""Words, codes and proportions the generated values are drawn from."""

from __future__ import annotations

from py_load_medgen.generate.base import _weighted

# ---------------------------------------------------------------------------------------------
# Vocabulary. Names with apostrophes, quotes, backslashes and TABs exist in NCBI's pipe files
# (or are the characters that break naive CSV/COPY handling); they are only ever used in
# pipe-delimited files, never in the TAB-delimited history files.

_EPONYMS = (
    "Alström", "Angelman", "Bardet-Biedl", "Bartter", "Beckwith-Wiedemann", "Chédiak-Higashi",
    "Charcot-Marie-Tooth", "Cockayne", "Cornelia de Lange", "Crouzon", "Dandy-Walker",
    "Ehlers-Danlos", "Fanconi", "Gaucher", "Gitelman", "Hirschsprung", "Joubert", "Kabuki",
    "Kallmann", "Leigh", "Li-Fraumeni", "Löfgren", "Marfan", "Marinesco-Sjögren", "Ménétrier",
    "Meckel-Gruber", "Noonan", "Papillon-Lefèvre", "Pelger-Huët", "Pfeiffer", "Prader-Willi",
    "Rett", "Sjögren", "Smith-Lemli-Opitz", "Stargardt", "Stüve-Wiedemann", "Treacher Collins",
    "Usher", "Waardenburg", "Wolf-Hirschhorn", "Zellweger", "Sézary", "Krabbe", "Niemann-Pick",
    "Tay-Sachs", "Wilson", "Alport", "Canavan", "Béclard", "Müller",
)  # fmt: skip
_NOUNS = (
    "syndrome", "disease", "anomaly", "dysplasia", "myopathy", "neuropathy", "cardiomyopathy",
    "ataxia", "muscular dystrophy", "deficiency", "encephalopathy", "nephropathy",
    "retinopathy", "leukodystrophy", "epilepsy", "hypoplasia", "cancer", "carcinoma",
    "lymphoma", "anemia", "hearing loss", "intellectual disability", "cataract",
)  # fmt: skip
_QUALIFIERS = (
    "Congenital", "Familial", "Hereditary", "Progressive", "Autosomal recessive",
    "Autosomal dominant", "X-linked", "Early-onset", "Juvenile", "Infantile", "Severe",
    "Isolated", "Generalized", "Focal", "Primary", "Neonatal", "Adult-onset", "Atypical",
    "Spinocerebellar", "Dilated", "Hypertrophic", "Sensorineural",
)  # fmt: skip
_ORGANS = (
    "abdomen", "kidney", "liver", "heart", "lung", "retina", "cerebellum", "skin", "bone",
    "thyroid", "pancreas", "skeletal muscle", "optic nerve", "cornea", "inner ear",
    "spinal cord", "aorta", "adrenal gland", "hand", "foot", "palate", "teeth", "hair", "nail",
    "corpus callosum", "femur", "eyelid", "mitral valve",
)  # fmt: skip
_FINDINGS = (
    "Abnormality of the {}", "Hypoplasia of the {}", "Aplasia of the {}", "Neoplasm of {}",
    "Abnormal {} morphology", "Cyst of {}", "Malformation of the {}", "Enlarged {}",
    "Agenesis of the {}", "Dysplasia of the {}",
)  # fmt: skip
_GENES = (
    "BRCA1", "BRCA2", "CFTR", "FBN1", "MECP2", "SCN1A", "COL1A1", "COL4A5", "PAH", "GBA1",
    "HEXA", "TP53", "MYH7", "LMNA", "DMD", "PKD1", "RET", "FGFR3", "KCNQ1", "NF1", "TTN",
    "ATP7B", "SMN1", "HBB", "GJB2",
)  # fmt: skip
_GREEK = (
    "α-Thalassemia",  # noqa: RUF001
    "β-Thalassemia",
    "α-Mannosidosis",  # noqa: RUF001
    "β-Ketothiolase deficiency",
    "γ-Glutamylcysteine synthetase deficiency",  # noqa: RUF001
    "δ-Storage pool disease",
    "κ Light chain deficiency",
    "Δ4-3-oxosteroid 5β-reductase deficiency",
)
_ODD_NAMES = (
    "Peau d'orange",
    "O'nyong'nyong fever",
    'Drug not collected - "too expensive"',
    "Mosaic 45,X\\46,XX",
    "Hypoplasia of the\tfemur",
    '"Happy puppet" syndrome',
    "Deletion 9p\\",
    "Sensation 'as if ...'",
    "Agonadism, 46,XY, with intellectual disability, short stature, retarded bone age",
    "HNSHA due to pyrimidine-5'-nucleotidase deficiency",
    'Crohn\'s disease, "pediatric"',
    "Stool like rabbit's",
)
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")

_STYS = (
    ("T047", "B2.2.1.2.1", "Disease or Syndrome"),
    ("T033", "A2.2", "Finding"),
    ("T019", "A1.2.2.1", "Congenital Abnormality"),
    ("T191", "B2.2.1.2.1.2", "Neoplastic Process"),
    ("T184", "A2.2.2", "Sign or Symptom"),
    ("T028", "A1.2.3.5", "Gene or Genome"),
    ("T116", "A1.4.1.2.1.7", "Amino Acid, Peptide, or Protein"),
    ("T034", "A2.2.1", "Laboratory or Test Result"),
    ("T048", "B2.2.1.2.1.1", "Mental or Behavioral Dysfunction"),
    ("T046", "B2.2.1.2", "Pathologic Function"),
    ("T049", "B2.2.1.2.2", "Cell or Molecular Dysfunction"),
    ("T037", "B2.3", "Injury or Poisoning"),
    ("T190", "A1.2.2", "Anatomical Abnormality"),
    ("T061", "B1.3.1.3", "Therapeutic or Preventive Procedure"),
    ("T023", "A1.2.3.1", "Body Part, Organ, or Organ Component"),
    ("T201", "A2.3", "Clinical Attribute"),
    ("T114", "A1.4.1.2.1.5", "Nucleic Acid, Nucleoside, or Nucleotide"),
    ("T032", "A2.1.1", "Organism Attribute"),
    ("T045", "A2.2.2.1", "Genetic Function"),
)

_CONCEPT_SOURCES = _weighted(
    [("SNOMEDCT_US", 430), ("GTR", 210), ("NCI", 190), ("OMIM", 150), ("MSH", 15), ("ORDO", 3),
     ("HPO", 2)]
)  # fmt: skip
_ATOM_SABS = _weighted(
    [("SNOMEDCT_US", 25), ("NCI", 15), ("MSH", 12), ("OMIM", 12), ("HPO", 12), ("ORDO", 8),
     ("MONDO", 10), ("GTR", 4), ("MEDLINEPLUS", 2)]
)  # fmt: skip
_TTYS = {
    "SNOMEDCT_US": ("PT", "SY", "FN"),
    "NCI": ("PT", "SY"),
    "MSH": ("MH", "ET", "PM", "NM"),
    "OMIM": ("PT", "ETAL", "PHENO", "ACR"),
    "HPO": ("PT", "SY", "ET"),
    "ORDO": ("PT", "SY"),
    "MONDO": ("PT", "SY"),
    "GTR": ("PT", "SY", "AB"),
    "MEDLINEPLUS": ("PT", "SY"),
}
_STTS = ("PF", "PF", "VO", "VC", "VW")
_SUPPRESS = _weighted([("N", 950), ("Y", 30), ("O", 15), ("E", 5)])

# (STYPE1, REL, RELA, SAB) in roughly the proportions of a genuine MGREL.
_REL_TEMPLATES = tuple(
    template
    for template, weight in (
        (("AUI", "RO", "manifestation_of", "OMIM"), 70),
        (("AUI", "RO", "has_manifestation", "OMIM"), 30),
        (("AUI", "RO", "inheritance_type_of", "OMIM"), 15),
        (("SCUI", "RO", "is_finding_of_disease", "NCI"), 40),
        (("SCUI", "RO", "is_not_finding_of_disease", "NCI"), 22),
        (("SCUI", "RO", "may_be_finding_of_disease", "NCI"), 11),
        (("SCUI", "RO", "may_be_molecular_abnormality_of_disease", "NCI"), 7),
        (("SCUI", "RO", "may_be_cytogenetic_abnormality_of_disease", "NCI"), 9),
        (("AUI", "CHD", "part_of", "ORDO"), 90),
        (("CUI", "RO", "manifestation_of", "HPO"), 75),
        (("SCUI", "PAR", "inverse_isa", "NCI"), 31),
        (("SCUI", "CHD", "isa", "NCI"), 15),
        (("AUI", "PAR", "inverse_isa", "HPO"), 14),
        (("AUI", "CHD", "isa", "HPO"), 10),
        (("AUI", "SY", "expanded_form_of", "OMIM"), 4),
        (("AUI", "SY", "has_expanded_form", "OMIM"), 4),
        (("AUI", "SY", "permuted_term_of", "MSH"), 4),
        (("AUI", "SY", "has_permuted_term", "MSH"), 4),
        (("AUI", "CHD", "isa", "GTR"), 4),
        (("AUI", "RQ", "related_to", "OMIM"), 3),
        (("SCUI", "RB", "has_clinical_course", "MSH"), 2),
        (("AUI", "RO", "gene_product_sequence_variation_encoded_by_gene_mutant", "NCI"), 2),
    )
    for _ in range(weight)
)

# (SAB, STYPE, ATN, kind of value) for MGSAT rows.
_SAT_TEMPLATES = (
    ("OMIM", "AUI", "MIMTYPEMEANING", "mimtype"),
    ("OMIM", "AUI", "MIMTYPE", "digit"),
    ("OMIM", "SCUI", "SOS", "text"),
    ("HPO", "AUI", "HPO_COMMENT", "text"),
    ("HPO", "CUI", "HPO_XREF", "xref"),
    ("ORDO", "SDUI", "ORPHA_PREVALENCE", "prevalence"),
    ("GTR", "CUI", "MODE_OF_INHERITANCE", "moi"),
    ("GTR", "CUI", "GENE", "gene"),
    ("MSH", "SDUI", "MN", "treenum"),
    ("MSH", "SDUI", "DC", "digit"),
    ("SNOMEDCT_US", "AUI", "CTV3ID", "ctv3"),
    ("SNOMEDCT_US", "AUI", "EFFECTIVE_TIME", "yyyymmdd"),
    ("SNOMEDCT_US", "AUI", "ACTIVE", "digit"),
    ("NCI", "SCUI", "Semantic_Type", "sty"),
    ("NCI", "SCUI", "Contributing_Source", "contrib"),
    ("NCI", "SCUI", "DEFINITION", "text"),
)
_MOIS = (
    "Autosomal recessive inheritance",
    "Autosomal dominant inheritance",
    "X-linked recessive inheritance",
    "Mitochondrial inheritance",
    "Somatic mutation",
)
_MIMTYPES = (
    "Phenotype description, molecular basis known",
    "Gene description",
    "Phenotype description or locus, molecular basis unknown",
)
_DEF_SOURCES = (
    "Genetics Home Reference",
    "NCI",
    "MSH",
    "HPO",
    "OMIM",
    "GeneReviews",
    "ORDO",
    "MONDO",
    "MedlinePlus Genetics",
    "SNOMED CT",
)
_LINK_SOURCES = ("OMIM", "Orphanet", "HPO", "MONDO", "MeSH", "SNOMEDCT_US", "NCI")

# (Source, Abbreviation, Description, URL): a URL is sometimes missing in the real file.
_SOURCES: tuple[tuple[str, str, str, str], ...] = (
    (
        "Genetic Testing Registry",
        "GTR",
        "NCBI's registry of genetic tests and the conditions they test for",
        "https://www.ncbi.nlm.nih.gov/gtr/",
    ),
    (
        "Online Mendelian Inheritance in Man",
        "OMIM",
        "Catalog of human genes and genetic disorders",
        "https://omim.org/",
    ),
    (
        "Human Phenotype Ontology",
        "HPO",
        "Standardized vocabulary of phenotypic abnormalities",
        "https://hpo.jax.org/",
    ),
    (
        "Orphanet Rare Disease Ontology",
        "ORDO",
        "Orphanet's structured vocabulary for rare diseases",
        "https://www.orphadata.com/",
    ),
    (
        "Mondo Disease Ontology",
        "MONDO",
        "A unified disease ontology harmonizing several sources",
        "https://mondo.monarchinitiative.org/",
    ),
    (
        "NCI Thesaurus",
        "NCI",
        "National Cancer Institute's reference terminology",
        "https://ncit.nci.nih.gov/",
    ),
    (
        "SNOMED CT, US Edition",
        "SNOMEDCT_US",
        "Systematized Nomenclature of Medicine - Clinical Terms",
        "https://www.nlm.nih.gov/healthit/snomedct/",
    ),
    (
        "Medical Subject Headings",
        "MSH",
        'NLM\'s controlled vocabulary for indexing "MEDLINE"',
        "https://www.nlm.nih.gov/mesh/",
    ),
    (
        "MedlinePlus Health Topics",
        "MEDLINEPLUS",
        "Consumer health information",
        "https://medlineplus.gov/",
    ),
    (
        "GeneReviews",
        "GeneReviews",
        "Expert-authored disease descriptions",
        "https://www.ncbi.nlm.nih.gov/books/NBK1116/",
    ),
    (
        "Genetics Home Reference",
        "GHR",
        "Consumer information about genetic conditions (now MedlinePlus Genetics)",
        "",
    ),
    (
        "ClinVar",
        "ClinVar",
        "Relationships among human variations and phenotypes",
        "https://www.ncbi.nlm.nih.gov/clinvar/",
    ),
    (
        "UMLS Metathesaurus",
        "MTH",
        "Concepts and names created by the UMLS editors",
        "https://www.nlm.nih.gov/research/umls/",
    ),
    (
        "Medical Genetics Summaries",
        "MGS",
        "NCBI's summaries of pharmacogenetic and other tests",
        "",
    ),
    (
        "American College of Medical Genetics and Genomics",
        "ACMG",
        "ACT sheets and practice guidelines",
        "https://www.acmg.net/",
    ),
    (
        "Clinical Pharmacogenetics Implementation Consortium",
        "CPIC",
        "Gene/drug clinical practice guidelines",
        "https://cpicpgx.org/",
    ),
    (
        "Disease Ontology",
        "DOID",
        "Human disease ontology",
        "https://disease-ontology.org/",
    ),
    (
        "Gene Ontology",
        "GO",
        "Functions of genes and gene products",
        "http://geneontology.org/",
    ),
    (
        "International Classification of Diseases, Tenth Revision, Clinical Modification",
        "ICD10CM",
        "US clinical modification of ICD-10",
        "",
    ),
    (
        "Logical Observation Identifiers Names and Codes",
        "LNC",
        "Laboratory and clinical observations",
        "https://loinc.org/",
    ),
    (
        "European Molecular Genetics Quality Network",
        "EMQN",
        "Best practice guidelines",
        "https://www.emqn.org/",
    ),
    (
        "PharmGKB",
        "PharmGKB",
        "Pharmacogenomics knowledge base",
        "https://www.pharmgkb.org/",
    ),
    (
        "Newborn Screening Coding and Terminology Guide",
        "NBSTRN",
        "Terms used in newborn screening",
        "",
    ),
    (
        "UniProtKB/Swiss-Prot",
        "UniProtKB",
        "Curated protein sequence database",
        "https://www.uniprot.org/",
    ),
    (
        "Office of Rare Diseases Research",
        "ORDR",
        "NIH's Genetic and Rare Diseases Information Center",
        "",
    ),
)
