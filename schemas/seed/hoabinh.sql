-- The sample catalog of the reference city, Hòa Bình city (Thành phố Hòa Bình,
-- tỉnh Hòa Bình), as it stood 2021-02 .. 2025-06: its 19 wards and communes,
-- the city's departments and office, two reception points, common procedures,
-- routing rules, rule sets and settings, from a reference data set with its
-- sources, hoabinh-catalog-2020-2024.json ("the source" below; not shipped).
--
-- ILLUSTRATIVE, NOT OFFICIAL: every agency_id (national scheme AAA.BB.CC.Hnn,
-- province H17; the "26" district part and the BB numbers are made up), every
-- head_name and the chairman's name are invented for the sample; procedure
-- codes starting with "X." are invented because the source found no national
-- code (code_illustrative = true). The GSO ward/commune codes, unit names,
-- procedure names and the national procedure codes come from the source (the
-- national codes are as listed in the national database and were not
-- confirmed for 2020-2024). time_confirmed = false marks statutory times the
-- source did not settle; each such row's note says why its value was chosen.
--
-- Loading twice is harmless: every insert skips rows that already exist.
-- Calendar days are in calendar_2020_2026.sql, not here.

-- Settings of the deployment.
INSERT INTO catalog.setting (key, value) VALUES
    ('city_name', 'Thành phố Hòa Bình'),
    ('province_name', 'Tỉnh Hòa Bình'),
    ('issuing_authority', 'ỦY BAN NHÂN DÂN THÀNH PHỐ HÒA BÌNH'),
    ('chairman_title', 'Chủ tịch Ủy ban nhân dân thành phố'),
    ('chairman_name', 'Nguyễn Văn Thành'),
    ('chairman_name_note', 'Illustrative name for the sample, not the real office holder.'),
    ('letter_place', 'Hòa Bình'),
    ('default_reception', 'TN-PHUONGLAM'),
    ('gso_province_code', '17'),
    ('gso_district_code', '148'),
    -- The unit that hears of explanations not given in time (the Chairman's
    -- office: Văn phòng HĐND và UBND).
    ('accountability_office', 'VP')
ON CONFLICT (key) DO NOTHING;

-- Legal rule sets. supplement_policy 'pause' is a configurable default, not
-- verified law (docs/domain.md: "Supplement request ... policy per rule set ...
-- (verify)"); an operator may set 'restart' per rule set.
INSERT INTO catalog.rule_set (code, name, valid_from, valid_to, supplement_policy) VALUES
    ('ND61-2018',
     'Nghị định 61/2018/NĐ-CP về thực hiện cơ chế một cửa, một cửa liên thông (sửa đổi, bổ sung bởi Nghị định 107/2021/NĐ-CP)',
     '2018-06-21', '2025-06-30', 'pause'),
    ('ND118-2025',
     'Nghị định 118/2025/NĐ-CP về thực hiện thủ tục hành chính theo cơ chế một cửa, một cửa liên thông',
     '2025-07-01', NULL, 'pause')
ON CONFLICT (code) DO NOTHING;

-- The city People's Committee (its Chairman signs every apology letter).
INSERT INTO catalog.unit (code, name, kind, agency_id, official_code, head_title, head_name,
                          signer_policy, address, illustrative, note) VALUES
    ('UBND-TP', 'Ủy ban nhân dân thành phố Hòa Bình', 'office', '000.00.26.H17', '148',
     'Chủ tịch UBND thành phố', 'Nguyễn Văn Thành', 'city_chairman',
     'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'GSO district code 148. agency_id and head_name are illustrative.')
ON CONFLICT (code) DO NOTHING;

-- The city's specialised departments (phòng, ban), 2020-2024 organisation
-- under Nghị định 37/2014/NĐ-CP (amended by 108/2020). Phòng Dân tộc is left
-- out: the source could not confirm the city had one.
INSERT INTO catalog.unit (code, name, kind, agency_id, official_code, head_title, head_name,
                          signer_policy, address, illustrative, note) VALUES
    ('VP', 'Văn phòng Hội đồng nhân dân và Ủy ban nhân dân thành phố', 'department',
     '000.01.26.H17', NULL, 'Chánh Văn phòng', 'Trần Minh Đức', 'city_chairman',
     'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Hosts the city one-stop unit. agency_id and head_name are illustrative.'),
    ('PNV', 'Phòng Nội vụ', 'department', '000.02.26.H17', NULL, 'Trưởng phòng',
     'Lê Thị Hồng Nhung', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'agency_id and head_name are illustrative.'),
    ('PTP', 'Phòng Tư pháp', 'department', '000.03.26.H17', NULL, 'Trưởng phòng',
     'Bùi Văn Quang', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'District-level civil status and certification. agency_id and head_name are illustrative.'),
    ('PTCKH', 'Phòng Tài chính - Kế hoạch', 'department', '000.04.26.H17', NULL, 'Trưởng phòng',
     'Đinh Thị Thu Hà', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'District business registration office (household businesses, cooperatives) 2020-2024 (role not confirmed by the source). agency_id and head_name are illustrative.'),
    ('PTNMT', 'Phòng Tài nguyên và Môi trường', 'department', '000.05.26.H17', NULL,
     'Trưởng phòng', 'Phạm Quốc Hưng', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Land and environment (role not confirmed by the source). agency_id and head_name are illustrative.'),
    ('PLDTBXH', 'Phòng Lao động - Thương binh và Xã hội', 'department', '000.06.26.H17', NULL,
     'Trưởng phòng', 'Quách Thị Lan', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Social protection, people with merit, labour. agency_id and head_name are illustrative.'),
    ('PVHTT', 'Phòng Văn hóa và Thông tin', 'department', '000.07.26.H17', NULL, 'Trưởng phòng',
     'Hoàng Văn Sơn', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'agency_id and head_name are illustrative.'),
    ('PGDDT', 'Phòng Giáo dục và Đào tạo', 'department', '000.08.26.H17', NULL, 'Trưởng phòng',
     'Vũ Thị Minh Phương', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'agency_id and head_name are illustrative.'),
    ('PYT', 'Phòng Y tế', 'department', '000.09.26.H17', NULL, 'Trưởng phòng', 'Đỗ Văn Khải',
     'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'agency_id and head_name are illustrative.'),
    ('TTTP', 'Thanh tra thành phố', 'department', '000.10.26.H17', NULL, 'Chánh Thanh tra',
     'Ngô Văn Tuấn', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Advises the Chairman on complaints and denunciations (role not confirmed by the source). agency_id and head_name are illustrative.'),
    ('PKT', 'Phòng Kinh tế', 'department', '000.11.26.H17', NULL, 'Trưởng phòng',
     'Hà Văn Bình', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'agency_id and head_name are illustrative.'),
    ('PQLDT', 'Phòng Quản lý đô thị', 'department', '000.12.26.H17', NULL, 'Trưởng phòng',
     'Dương Minh Tiến', 'city_chairman', 'Thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Construction permits, urban planning, housing. agency_id and head_name are illustrative.')
ON CONFLICT (code) DO NOTHING;

-- The two reception-and-return points of the city (Bộ phận Tiếp nhận và Trả
-- kết quả, part of the city office), at Phương Lâm and Kỳ Sơn wards.
INSERT INTO catalog.unit (code, name, kind, agency_id, official_code, head_title, head_name,
                          signer_policy, address, illustrative, note) VALUES
    ('TN-PHUONGLAM', 'Bộ phận Tiếp nhận và Trả kết quả thành phố Hòa Bình - điểm Phương Lâm',
     'reception', '000.31.26.H17', NULL, 'Phó Chánh Văn phòng HĐND và UBND thành phố',
     'Lý Thị Ngọc Anh', 'city_chairman',
     'Phường Phương Lâm, thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Reception point in Phường Phương Lâm (04807). agency_id and head_name are illustrative.'),
    ('TN-KYSON', 'Bộ phận Tiếp nhận và Trả kết quả thành phố Hòa Bình - điểm Kỳ Sơn',
     'reception', '000.32.26.H17', NULL, 'Phó Chánh Văn phòng HĐND và UBND thành phố',
     'Xa Văn Hải', 'city_chairman',
     'Phường Kỳ Sơn, thành phố Hòa Bình, tỉnh Hòa Bình', true,
     'Reception point in Phường Kỳ Sơn (04894), opened after Kỳ Sơn district merged into the city (2020). agency_id and head_name are illustrative.')
ON CONFLICT (code) DO NOTHING;

-- The 19 wards and communes (12 phường, 7 xã from 2021-02 to 2025-06). Unit
-- code = official GSO code (province 17, city 148).
INSERT INTO catalog.unit (code, name, kind, agency_id, official_code, head_title, head_name,
                          signer_policy, address, illustrative, note) VALUES
    ('04789', 'Phường Thái Bình', 'ward', '000.41.26.H17', '04789', 'Chủ tịch UBND phường',
     'Nguyễn Đức Long', 'city_chairman', 'Phường Thái Bình, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04792', 'Phường Tân Hòa', 'ward', '000.42.26.H17', '04792', 'Chủ tịch UBND phường',
     'Bùi Thị Thanh Hương', 'city_chairman', 'Phường Tân Hòa, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04795', 'Phường Thịnh Lang', 'ward', '000.43.26.H17', '04795', 'Chủ tịch UBND phường',
     'Trần Văn Hòa', 'city_chairman', 'Phường Thịnh Lang, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04798', 'Phường Hữu Nghị', 'ward', '000.44.26.H17', '04798', 'Chủ tịch UBND phường',
     'Lê Quang Vinh', 'city_chairman', 'Phường Hữu Nghị, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04801', 'Phường Tân Thịnh', 'ward', '000.45.26.H17', '04801', 'Chủ tịch UBND phường',
     'Đinh Công Thắng', 'city_chairman', 'Phường Tân Thịnh, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04804', 'Phường Đồng Tiến', 'ward', '000.46.26.H17', '04804', 'Chủ tịch UBND phường',
     'Phạm Thị Mai', 'city_chairman', 'Phường Đồng Tiến, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04807', 'Phường Phương Lâm', 'ward', '000.47.26.H17', '04807', 'Chủ tịch UBND phường',
     'Hoàng Minh Tuấn', 'city_chairman', 'Phường Phương Lâm, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04813', 'Xã Yên Mông', 'commune', '000.48.26.H17', '04813', 'Chủ tịch UBND xã',
     'Quách Văn Dũng', 'city_chairman', 'Xã Yên Mông, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04816', 'Phường Quỳnh Lâm', 'ward', '000.49.26.H17', '04816', 'Chủ tịch UBND phường',
     'Vũ Thị Thu Trang', 'city_chairman', 'Phường Quỳnh Lâm, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'Xã Sủ Ngòi until 2021-01 (Nghị quyết 1189/NQ-UBTVQH14). GSO code official; agency_id and head_name are illustrative.'),
    ('04819', 'Phường Dân Chủ', 'ward', '000.50.26.H17', '04819', 'Chủ tịch UBND phường',
     'Đỗ Văn Cường', 'city_chairman', 'Phường Dân Chủ, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04825', 'Xã Hòa Bình', 'commune', '000.51.26.H17', '04825', 'Chủ tịch UBND xã',
     'Bùi Văn Nam', 'city_chairman', 'Xã Hòa Bình, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04828', 'Phường Thống Nhất', 'ward', '000.52.26.H17', '04828', 'Chủ tịch UBND phường',
     'Ngô Thị Kim Dung', 'city_chairman', 'Phường Thống Nhất, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04894', 'Phường Kỳ Sơn', 'ward', '000.53.26.H17', '04894', 'Chủ tịch UBND phường',
     'Hà Văn Khánh', 'city_chairman', 'Phường Kỳ Sơn, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'Formerly Thị trấn Kỳ Sơn of Kỳ Sơn district. GSO code official; agency_id and head_name are illustrative.'),
    ('04897', 'Xã Thịnh Minh', 'commune', '000.54.26.H17', '04897', 'Chủ tịch UBND xã',
     'Đinh Văn Phong', 'city_chairman', 'Xã Thịnh Minh, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04903', 'Xã Hợp Thành', 'commune', '000.55.26.H17', '04903', 'Chủ tịch UBND xã',
     'Nguyễn Thị Hạnh', 'city_chairman', 'Xã Hợp Thành, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'Formerly of Kỳ Sơn district. GSO code official; agency_id and head_name are illustrative.'),
    ('04906', 'Xã Quang Tiến', 'commune', '000.56.26.H17', '04906', 'Chủ tịch UBND xã',
     'Xa Văn Trung', 'city_chairman', 'Xã Quang Tiến, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'GSO code official; agency_id and head_name are illustrative.'),
    ('04912', 'Xã Mông Hóa', 'commune', '000.57.26.H17', '04912', 'Chủ tịch UBND xã',
     'Bùi Đức Việt', 'city_chairman', 'Xã Mông Hóa, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'Formerly of Kỳ Sơn district. GSO code official; agency_id and head_name are illustrative.'),
    ('04918', 'Phường Trung Minh', 'ward', '000.58.26.H17', '04918', 'Chủ tịch UBND phường',
     'Lê Thị Yến', 'city_chairman', 'Phường Trung Minh, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'Xã Trung Minh until 2021-01 (Nghị quyết 1189/NQ-UBTVQH14). GSO code official; agency_id and head_name are illustrative.'),
    ('04921', 'Xã Độc Lập', 'commune', '000.59.26.H17', '04921', 'Chủ tịch UBND xã',
     'Quách Công Minh', 'city_chairman', 'Xã Độc Lập, thành phố Hòa Bình, tỉnh Hòa Bình',
     true, 'Formerly of Kỳ Sơn district. GSO code official; agency_id and head_name are illustrative.')
ON CONFLICT (code) DO NOTHING;

-- Procedures. Statutory time from the source's processing_time: "ngay trong
-- ngày ... sau 15 giờ" (or "ngay") = 1 sd; "N ngày làm việc" = N wd;
-- "N ngày" = N cd. Where the law allows an extension (verification, many
-- copies) the base time is stored and the note says so.
INSERT INTO catalog.procedure (code, name, field, level, time_amount, time_unit,
                               online_time_amount, legal_basis, code_illustrative,
                               time_confirmed, note) VALUES
    -- Hộ tịch (civil status), commune level
    ('1.001193', 'Thủ tục đăng ký khai sinh', 'Hộ tịch', 'commune', 1, 'sd', NULL,
     'Luật Hộ tịch 2014 Điều 16.2 và Điều 5.3', false, true,
     'Same day; received after 15:00, the next working day.'),
    ('1.000894', 'Thủ tục đăng ký kết hôn', 'Hộ tịch', 'commune', 1, 'sd', NULL,
     'Luật Hộ tịch 2014 Điều 18.2', false, true,
     'Same day; up to 5 working days when the marriage conditions need verification.'),
    ('1.000656', 'Thủ tục đăng ký khai tử', 'Hộ tịch', 'commune', 1, 'sd', NULL,
     'Luật Hộ tịch 2014 Điều 34.2, Điều 5.3', false, true,
     'Same day; received after 15:00, the next working day.'),
    ('1.001022', 'Thủ tục đăng ký nhận cha, mẹ, con', 'Hộ tịch', 'commune', 3, 'wd', NULL,
     'Luật Hộ tịch 2014 Điều 25.2', false, true,
     'Up to 5 more working days when verification is needed.'),
    ('1.004859', 'Thủ tục đăng ký thay đổi, cải chính hộ tịch (người chưa đủ 14 tuổi), bổ sung thông tin hộ tịch',
     'Hộ tịch', 'commune', 3, 'wd', NULL, 'Luật Hộ tịch 2014 Điều 28.2, Điều 29.2', false, true,
     'Change/correction 3 working days (+3 with verification); an addition is same-day. The 2020-2024 wording of the name was not seen in a source.'),
    ('1.004837', 'Thủ tục đăng ký giám hộ', 'Hộ tịch', 'commune', 3, 'wd', NULL,
     'Luật Hộ tịch 2014 Điều 20.2', false, true, NULL),
    ('2.000635', 'Thủ tục cấp bản sao trích lục hộ tịch', 'Hộ tịch', 'both', 1, 'sd', NULL,
     'Luật Hộ tịch 2014 Điều 64.2', false, true,
     'Issued by the ward or commune or by Phòng Tư pháp (whoever holds the register); the sample routes it to the ward.'),
    ('1.004873', 'Thủ tục cấp Giấy xác nhận tình trạng hôn nhân', 'Hộ tịch', 'commune', 3, 'wd', NULL,
     'Nghị định 123/2015/NĐ-CP Điều 22', false, false,
     '3 working days as the source lists it; the article text was not seen in a source.'),
    ('1.004884', 'Thủ tục đăng ký lại khai sinh', 'Hộ tịch', 'commune', 5, 'wd', NULL,
     'Nghị định 123/2015/NĐ-CP', false, false,
     '5 working days as the source lists it; the article text was not seen in a source.'),
    ('1.004746', 'Thủ tục đăng ký lại kết hôn', 'Hộ tịch', 'commune', 5, 'wd', NULL,
     'Nghị định 123/2015/NĐ-CP', false, false,
     '5 working days as the source lists it; the article text was not seen in a source.'),
    -- Hộ tịch, district level (Phòng Tư pháp; the Chairman signs)
    ('2.000528', 'Thủ tục đăng ký khai sinh có yếu tố nước ngoài', 'Hộ tịch', 'district', 1, 'sd', NULL,
     'Luật Hộ tịch 2014 Điều 36.2, Điều 5.3', false, true,
     'District level in 2020-2024; commune level after the 2025 reform.'),
    ('2.000806', 'Thủ tục đăng ký kết hôn có yếu tố nước ngoài', 'Hộ tịch', 'district', 15, 'cd', NULL,
     'Luật Hộ tịch 2014 Điều 38.2', false, true,
     '15 days from receipt of complete papers. District level in 2020-2024.'),
    ('2.000779', 'Thủ tục đăng ký nhận cha, mẹ, con có yếu tố nước ngoài', 'Hộ tịch', 'district', 15, 'cd', NULL,
     'Luật Hộ tịch 2014 Điều 44.2', false, true,
     '15 days, including 7 consecutive days of public posting. District level in 2020-2024.'),
    ('1.001766', 'Thủ tục đăng ký khai tử có yếu tố nước ngoài', 'Hộ tịch', 'district', 1, 'sd', NULL,
     'Luật Hộ tịch 2014 Điều 52.2', false, true,
     'Same day; up to 3 working days when verification is needed. District level in 2020-2024.'),
    ('2.000748', 'Thủ tục đăng ký thay đổi, cải chính, bổ sung hộ tịch, xác định lại dân tộc (cấp huyện)',
     'Hộ tịch', 'district', 3, 'wd', NULL, 'Luật Hộ tịch 2014 Điều 46, 47 (áp dụng Điều 28, 29)', false, true,
     '3 working days (+3 with verification). Whether 2.000748 was the 2020-2024 code of this district procedure is not confirmed.'),
    ('2.002189', 'Thủ tục ghi vào Sổ hộ tịch việc kết hôn của công dân Việt Nam đã được giải quyết tại cơ quan có thẩm quyền của nước ngoài',
     'Hộ tịch', 'district', 12, 'cd', NULL, 'Luật Hộ tịch 2014 Điều 50.2', false, true,
     '12 days from receipt of a complete dossier. District level in 2020-2024.'),
    -- Chứng thực (certification)
    ('2.000815', 'Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan, tổ chức có thẩm quyền của Việt Nam; cơ quan, tổ chức có thẩm quyền của nước ngoài; ... cấp hoặc chứng nhận',
     'Chứng thực', 'both', 1, 'sd', NULL, 'Nghị định 23/2015/NĐ-CP Điều 7, Điều 21', false, true,
     'Same day (after 15:00: next working day); many copies: up to 2 more working days. Ward or Phòng Tư pháp; the sample routes it to the ward.'),
    ('2.000884', 'Chứng thực chữ ký trong các giấy tờ, văn bản (áp dụng cho cả trường hợp chứng thực điểm chỉ và trường hợp người yêu cầu chứng thực không thể ký, không thể điểm chỉ được)',
     'Chứng thực', 'both', 1, 'sd', NULL, 'Nghị định 23/2015/NĐ-CP Điều 7', false, true,
     'Ward or Phòng Tư pháp; the sample routes it to the ward.'),
    ('2.000908', 'Thủ tục cấp bản sao từ sổ gốc', 'Chứng thực', 'both', 1, 'sd', NULL,
     'Nghị định 23/2015/NĐ-CP Điều 7', false, true,
     'Issued by the body that holds the original register; the sample routes it to the ward.'),
    ('2.001035', 'Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản, quyền sử dụng đất, nhà ở',
     'Chứng thực', 'commune', 2, 'wd', NULL, 'Nghị định 23/2015/NĐ-CP Điều 37, Điều 5', false, true,
     'Land and housing at the commune; movable property also at Phòng Tư pháp. Longer by written agreement.'),
    ('2.001019', 'Chứng thực di chúc', 'Chứng thực', 'commune', 2, 'wd', NULL,
     'Nghị định 23/2015/NĐ-CP Điều 37, Điều 5.2(e)', false, true, NULL),
    ('2.000913', 'Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch', 'Chứng thực', 'both', 2, 'wd', NULL,
     'Nghị định 23/2015/NĐ-CP Điều 37', false, true,
     'By whoever certified the original contract; the sample routes it to the ward.'),
    -- Thành lập và hoạt động của hộ kinh doanh (household businesses), Phòng Tài chính - Kế hoạch
    ('1.001612', 'Đăng ký thành lập hộ kinh doanh', 'Thành lập và hoạt động của hộ kinh doanh', 'district', 3, 'wd', NULL,
     'Nghị định 01/2021/NĐ-CP Điều 87', false, false,
     '3 working days as the national database lists it today (post-2025 regime); the 2020-2024 article text was not seen.'),
    ('2.000720', 'Đăng ký thay đổi nội dung đăng ký hộ kinh doanh', 'Thành lập và hoạt động của hộ kinh doanh', 'district', 3, 'wd', NULL,
     'Nghị định 01/2021/NĐ-CP Điều 90', false, false,
     '3 working days as the national database lists it today (post-2025 regime); the 2020-2024 article text was not seen.'),
    ('1.001570', 'Tạm ngừng kinh doanh, tiếp tục kinh doanh trước thời hạn đã thông báo của hộ kinh doanh', 'Thành lập và hoạt động của hộ kinh doanh', 'district', 3, 'wd', NULL,
     'Nghị định 01/2021/NĐ-CP Điều 91', false, false,
     'The source has no 2020-2024 time (post-2025: 1 working day); 3 working days chosen, as for the other household-business procedures of Nghị định 01/2021.'),
    ('1.001266', 'Chấm dứt hoạt động hộ kinh doanh', 'Thành lập và hoạt động của hộ kinh doanh', 'district', 3, 'wd', NULL,
     'Nghị định 01/2021/NĐ-CP Điều 92', false, false,
     'The source has no 2020-2024 time (post-2025: 5 working days); 3 working days chosen, as for the other household-business procedures of Nghị định 01/2021.'),
    ('2.000575', 'Cấp lại Giấy chứng nhận đăng ký hộ kinh doanh', 'Thành lập và hoạt động của hộ kinh doanh', 'district', 3, 'wd', NULL,
     'Nghị định 01/2021/NĐ-CP Điều 94', false, true, NULL),
    -- Thành lập và hoạt động của hợp tác xã
    ('1.005280', 'Đăng ký thành lập hợp tác xã', 'Thành lập và hoạt động của hợp tác xã', 'district', 5, 'wd', NULL,
     'Luật Hợp tác xã 2012; Nghị định 193/2013/NĐ-CP', false, false,
     'The source has no time; 5 working days is the commonly cited time of Luật Hợp tác xã 2012 Điều 24 (not read in a source). Code from the 2026 national database, not confirmed for 2020-2024.'),
    -- Bảo trợ xã hội (social protection): submitted at the commune, decided by the Chairman
    ('1.001776', 'Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng, hỗ trợ kinh phí chăm sóc, nuôi dưỡng hàng tháng',
     'Bảo trợ xã hội', 'district', 22, 'wd', NULL, 'Nghị định 20/2021/NĐ-CP Điều 8.1', false, true,
     'Sum of the stages: commune 7 + posting 2 + forwarding 3, Phòng LĐ-TB&XH 7, Chairman 3 working days. Nghị định 136/2013 before 2021-07-01.'),
    ('1.001731', 'Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội', 'Bảo trợ xã hội', 'district', 7, 'wd', NULL,
     'Nghị định 20/2021/NĐ-CP Điều 11.4', false, false,
     'Commune 2 + Phòng LĐ-TB&XH 3 working days per the source; the Chairman''s decision time is not stated there, 2 working days assumed.'),
    ('1.001699', 'Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật', 'Bảo trợ xã hội', 'commune', 30, 'cd', NULL,
     'Luật Người khuyết tật 2010; Nghị định 28/2012/NĐ-CP', false, false,
     'The source has no time; 30 days (council convened within 30 days of the application) is commonly cited, not read in a source. Full official name not seen.'),
    -- Khiếu nại, tố cáo (complaints, denunciations): Thanh tra advises the Chairman
    ('X.COMPL.01', 'Giải quyết khiếu nại lần đầu tại cấp huyện', 'Giải quyết khiếu nại', 'district', 30, 'cd', NULL,
     'Luật Khiếu nại 2011 Điều 28', true, true,
     'Illustrative code: no national code found. 30 days from acceptance; complex cases up to 45.'),
    ('X.DENUN.01', 'Giải quyết tố cáo tại cấp huyện', 'Giải quyết tố cáo', 'district', 30, 'cd', NULL,
     'Luật Tố cáo 2018 Điều 30', true, true,
     'Illustrative code: no national code found. 30 days from acceptance; extensions of 30 days for complex cases.'),
    -- Hoạt động xây dựng (construction), Phòng Quản lý đô thị
    ('X.BUILD.01', 'Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ', 'Hoạt động xây dựng', 'district', 15, 'cd', NULL,
     'Luật Xây dựng 2014 Điều 102 (sửa đổi 2020)', true, false,
     'Illustrative code: the pre-2025 national code was not found. 15 days as the source lists it; the article was not read in a source.'),
    ('X.BUILD.02', 'Cấp giấy phép xây dựng sửa chữa, cải tạo đối với nhà ở riêng lẻ', 'Hoạt động xây dựng', 'district', 15, 'cd', NULL,
     'Luật Xây dựng 2014 Điều 102 (sửa đổi 2020)', true, false,
     'Illustrative code: the pre-2025 national code was not found. The source has no time; 15 days chosen as for a new permit for a house.'),
    -- Đất đai (land), under Luật Đất đai 2013 (codes abolished with Luật Đất đai 2024)
    ('X.LAND.01', 'Đăng ký đất đai, tài sản gắn liền với đất, cấp Giấy chứng nhận quyền sử dụng đất lần đầu (hộ gia đình, cá nhân)',
     'Đất đai', 'district', 30, 'wd', NULL, 'Luật Đất đai 2013; Nghị định 43/2014/NĐ-CP Điều 61 (sửa đổi bởi Nghị định 01/2017/NĐ-CP)', true, false,
     'Illustrative code: the 2020-2024 national code was not found. The source has no time; 30 days not counting days off is commonly cited from Nghị định 43/2014 Điều 61, not read in a source.'),
    ('X.LAND.02', 'Chuyển mục đích sử dụng đất phải được phép của cơ quan nhà nước có thẩm quyền (hộ gia đình, cá nhân)',
     'Đất đai', 'district', 15, 'wd', NULL, 'Luật Đất đai 2013; Nghị định 43/2014/NĐ-CP Điều 61', true, false,
     'Illustrative code: the 2020-2024 national code was not found. The source has no time; 15 days not counting days off is commonly cited, not read in a source.'),
    ('X.LAND.03', 'Hòa giải tranh chấp đất đai', 'Đất đai', 'commune', 45, 'cd', NULL,
     'Luật Đất đai 2013 Điều 202', true, false,
     'Illustrative code: the 2020-2024 national code was not found. The source has no time; 45 days is commonly cited from Điều 202, not read in a source.'),
    ('X.LAND.04', 'Giải quyết tranh chấp đất đai thuộc thẩm quyền của Chủ tịch UBND cấp huyện', 'Đất đai', 'district', 45, 'wd', NULL,
     'Luật Đất đai 2013 Điều 203; Nghị định 43/2014/NĐ-CP Điều 61', true, false,
     'Illustrative code: the 2020-2024 national code was not found. The source has no time; 45 days not counting days off is commonly cited, not read in a source.')
ON CONFLICT (code) DO NOTHING;

-- Routing: commune-level and "both" procedures go to the applicant's ward or
-- commune; district-level ones to the department that prepares the decision.
-- routing_rule has no natural key, so each rule is inserted only if a rule
-- for the same (procedure, ward) does not exist yet.
INSERT INTO catalog.routing_rule (procedure_code, ward_code, target, unit_code, priority)
SELECT v.procedure_code, NULL, v.target, v.unit_code, 0
FROM (VALUES
    (NULL::text, 'ward', NULL::text), -- default: the applicant's ward or commune
    ('1.001193', 'ward', NULL), ('1.000894', 'ward', NULL), ('1.000656', 'ward', NULL),
    ('1.001022', 'ward', NULL), ('1.004859', 'ward', NULL), ('1.004837', 'ward', NULL),
    ('2.000635', 'ward', NULL), ('1.004873', 'ward', NULL), ('1.004884', 'ward', NULL),
    ('1.004746', 'ward', NULL),
    ('2.000528', 'unit', 'PTP'), ('2.000806', 'unit', 'PTP'), ('2.000779', 'unit', 'PTP'),
    ('1.001766', 'unit', 'PTP'), ('2.000748', 'unit', 'PTP'), ('2.002189', 'unit', 'PTP'),
    ('2.000815', 'ward', NULL), ('2.000884', 'ward', NULL), ('2.000908', 'ward', NULL),
    ('2.001035', 'ward', NULL), ('2.001019', 'ward', NULL), ('2.000913', 'ward', NULL),
    ('1.001612', 'unit', 'PTCKH'), ('2.000720', 'unit', 'PTCKH'), ('1.001570', 'unit', 'PTCKH'),
    ('1.001266', 'unit', 'PTCKH'), ('2.000575', 'unit', 'PTCKH'), ('1.005280', 'unit', 'PTCKH'),
    ('1.001776', 'unit', 'PLDTBXH'), ('1.001731', 'unit', 'PLDTBXH'), ('1.001699', 'ward', NULL),
    ('X.COMPL.01', 'unit', 'TTTP'), ('X.DENUN.01', 'unit', 'TTTP'),
    ('X.BUILD.01', 'unit', 'PQLDT'), ('X.BUILD.02', 'unit', 'PQLDT'),
    ('X.LAND.01', 'unit', 'PTNMT'), ('X.LAND.02', 'unit', 'PTNMT'), ('X.LAND.03', 'ward', NULL),
    ('X.LAND.04', 'unit', 'PTNMT')
) AS v (procedure_code, target, unit_code)
WHERE NOT EXISTS (
    SELECT 1 FROM catalog.routing_rule r
    WHERE r.procedure_code IS NOT DISTINCT FROM v.procedure_code AND r.ward_code IS NULL);

-- Where each unit receives its notices (warnings, requests for an
-- explanation, escalations): illustrative addresses under a reserved-style
-- domain, like the sample's names.
UPDATE catalog.unit SET email = lower(code) || '@hoabinh.example.vn'
 WHERE email IS NULL AND illustrative;
