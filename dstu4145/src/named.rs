//! The recommended polynomial-basis curves of DSTU 4145-2002 (table Г.1 with the field polynomials
//! of table 1) and their named-curve OIDs 1.2.804.2.1.1.1.1.3.1.1.2.0 … .9.
//!
//! The standard gives m, f, A, B and n; the base points are the ones the Ukrainian PKI uses (the
//! same in Bouncy Castle's `DSTU4145NamedCurves`, in jkurwa and in the certificates of the central
//! certification authority). The tests check every entry (B ≠ 0, P on the curve, nP = O, n prime)
//! and compare it with an independent transcription (`ua-cryptography-dstu4145`).

/// One named curve, numbers as big-endian hex.
pub(crate) struct NamedCurveData {
    /// The last arc of the OID 1.2.804.2.1.1.1.1.3.1.1.2.X.
    pub(crate) index: u32,
    pub(crate) m: usize,
    /// The middle exponents of f(z), ascending (one for a trinomial, three for a pentanomial).
    pub(crate) middle: &'static [usize],
    pub(crate) a: u8,
    pub(crate) b: &'static str,
    pub(crate) n: &'static str,
    pub(crate) gx: &'static str,
    pub(crate) gy: &'static str,
}

pub(crate) const NAMED_CURVES: [NamedCurveData; 10] = [
    NamedCurveData {
        index: 0,
        m: 163,
        middle: &[3, 6, 7],
        a: 1,
        b: "5FF6108462A2DC8210AB403925E638A19C1455D21",
        n: "400000000000000000002BEC12BE2262D39BCF14D",
        gx: "2E2F85F5DD74CE983A5C4237229DAF8A3F35823BE",
        gy: "3826F008A8C51D7B95284D9D03FF0E00CE2CD723A",
    },
    NamedCurveData {
        index: 1,
        m: 167,
        middle: &[6],
        a: 1,
        b: "6EE3CEEB230811759F20518A0930F1A4315A827DAC",
        n: "3FFFFFFFFFFFFFFFFFFFFFB12EBCC7D7F29FF7701F",
        gx: "7A1F6653786A68192803910A3D30B2A2018B21CD54",
        gy: "5F49EB26781C0EC6B8909156D98ED435E45FD59918",
    },
    NamedCurveData {
        index: 2,
        m: 173,
        middle: &[1, 2, 10],
        a: 0,
        b: "108576C80499DB2FC16EDDF6853BBB278F6B6FB437D9",
        n: "800000000000000000000189B4E67606E3825BB2831",
        gx: "4D41A619BCC6EADF0448FA22FAD567A9181D37389CA",
        gy: "10B51CC12849B234C75E6DD2028BF7FF5C1CE0D991A1",
    },
    NamedCurveData {
        index: 3,
        m: 179,
        middle: &[1, 2, 4],
        a: 1,
        b: "4A6E0856526436F2F88DD07A341E32D04184572BEB710",
        n: "3FFFFFFFFFFFFFFFFFFFFFFB981960435FE5AB64236EF",
        gx: "6BA06FE51464B2BD26DC57F48819BA9954667022C7D03",
        gy: "25FBC363582DCEC065080CA8287AAFF09788A66DC3A9E",
    },
    NamedCurveData {
        index: 4,
        m: 191,
        middle: &[9],
        a: 1,
        b: "7BC86E2102902EC4D5890E8B6B4981FF27E0482750FEFC03",
        n: "40000000000000000000000069A779CAC1DABC6788F7474F",
        gx: "714114B762F2FF4A7912A6D2AC58B9B5C2FCFE76DAEB7129",
        gy: "29C41E568B77C617EFE5902F11DB96FA9613CD8D03DB08DA",
    },
    NamedCurveData {
        index: 5,
        m: 233,
        middle: &[1, 4, 9],
        a: 1,
        b: "06973B15095675534C7CF7E64A21BD54EF5DD3B8A0326AA936ECE454D2C",
        n: "1000000000000000000000000000013E974E72F8A6922031D2603CFE0D7",
        gx: "3FCDA526B6CDF83BA1118DF35B3C31761D3545F32728D003EEB25EFE96",
        gy: "9CA8B57A934C54DEEDA9E54A7BBAD95E3B2E91C54D32BE0B9DF96D8D35",
    },
    NamedCurveData {
        index: 6,
        m: 257,
        middle: &[12],
        a: 0,
        b: "1CEF494720115657E18F938D7A7942394FF9425C1458C57861F9EEA6ADBE3BE10",
        n: "800000000000000000000000000000006759213AF182E987D3E17714907D470D",
        gx: "02A29EF207D0E9B6C55CD260B306C7E007AC491CA1B10C62334A9E8DCD8D20FB7",
        gy: "10686D41FF744D4449FCCF6D8EEA03102E6812C93A9D60B978B702CF156D814EF",
    },
    NamedCurveData {
        index: 7,
        m: 307,
        middle: &[2, 4, 8],
        a: 1,
        b: "393C7F7D53666B5054B5E6C6D3DE94F4296C0C599E2E2E241050DF18B6090BDC90186904968BB",
        n: "3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC079C2F3825DA70D390FBBA588D4604022B7B7",
        gx: "216EE8B189D291A0224984C1E92F1D16BF75CCD825A087A239B276D3167743C52C02D6E7232AA",
        gy: "5D9306BACD22B7FAEB09D2E049C6E2866C5D1677762A8F2F2DC9A11C7F7BE8340AB2237C7F2A0",
    },
    NamedCurveData {
        index: 8,
        m: 367,
        middle: &[21],
        a: 1,
        b: "43FC8AD242B0B7A6F3D1627AD5654447556B47BF6AA4A64B0C2AFE42CADAB8F93D92394C79A79755437B56995136",
        n: "40000000000000000000000000000000000000000000009C300B75A3FA824F22428FD28CE8812245EF44049B2D49",
        gx: "324A6EDDD512F08C49A99AE0D3F961197A76413E7BE81A400CA681E09639B5FE12E59A109F78BF4A373541B3B9A1",
        gy: "1AB597A5B4477F59E39539007C7F977D1A567B92B043A49C6B61984C3FE3481AAF454CD41BA1F051626442B3C10",
    },
    NamedCurveData {
        index: 9,
        m: 431,
        middle: &[1, 3, 5],
        a: 1,
        b: "03CE10490F6A708FC26DFE8C3D27C4F94E690134D5BFF988D8D28AAEAEDE975936C66BAC536B18AE2DC312CA493117DAA469C640CAF3",
        n: "3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFBA3175458009A8C0A724F02F81AA8A1FCBAF80D90C7A95110504CF",
        gx: "1A62BA79D98133A16BBAE7ED9A8E03C32E0824D57AEF72F88986874E5AAE49C27BED49A2A95058068426C2171E99FD3B43C5947C857D",
        gy: "70B5E1E14031C1F70BBEFE96BDDE66F451754B4CA5F48DA241F331AA396B8D1839A855C1769B1EA14BA53308B5E2723724E090E02DB9",
    },
];

/// Hex → big-endian bytes, for the constant table above (the tests cover every entry).
pub(crate) fn hex_bytes(hex: &str) -> Vec<u8> {
    let digits: Vec<u8> = hex
        .bytes()
        .map(|c| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 0,
        })
        .collect();
    let pad = digits.len() % 2;
    let mut bytes = Vec::with_capacity(digits.len() / 2 + 1);
    if pad == 1 {
        bytes.push(digits[0]);
    }
    for pair in digits[pad..].chunks(2) {
        bytes.push(pair[0] << 4 | pair[1]);
    }
    bytes
}
