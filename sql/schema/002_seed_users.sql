-- The 20 seed users (SPEC section 3). ON CONFLICT keeps re-runs from touching edited rows.
INSERT INTO user_metadata (id, name, email, quota) VALUES
    ('00000000-0000-0000-0000-000000000001', 'andres',    'andres@gmail.com',    200000),
    ('00000000-0000-0000-0000-000000000002', 'paco',      'paco@gmail.com',      300000),
    ('00000000-0000-0000-0000-000000000003', 'juan',      'juan@gmail.com',      100000),
    ('00000000-0000-0000-0000-000000000004', 'fede',      'fede@gmail.com',        5000),
    ('00000000-0000-0000-0000-000000000005', 'gorka',     'gorka@gmail.com',     200000),
    ('00000000-0000-0000-0000-000000000006', 'luis',      'luis@gmail.com',      200000),
    ('00000000-0000-0000-0000-000000000007', 'eric',      'eric@gmail.com',      300000),
    ('00000000-0000-0000-0000-000000000008', 'carlos',    'carlos@gmail.com',    100000),
    ('00000000-0000-0000-0000-000000000009', 'david',     'david@gmail.com',     300000),
    ('00000000-0000-0000-0000-000000000010', 'juanchu',   'juanchu@gmail.com',   300000),
    ('00000000-0000-0000-0000-000000000011', 'charo',     'charo@gmail.com',     300000),
    ('00000000-0000-0000-0000-000000000012', 'delicidas', 'delicidas@gmail.com', 1000000),
    ('00000000-0000-0000-0000-000000000013', 'milagros',  'milagros@gmail.com',  200000),
    ('00000000-0000-0000-0000-000000000014', 'antonio',   'antonio@gmail.com',   1000000),
    ('00000000-0000-0000-0000-000000000015', 'sergio',    'sergio@gmail.com',    1000000),
    ('00000000-0000-0000-0000-000000000016', 'maria',     'maria@gmail.com',     1000000),
    ('00000000-0000-0000-0000-000000000017', 'cristina',  'cristina@gmail.com',  300000),
    ('00000000-0000-0000-0000-000000000018', 'lucia',     'lucia@gmail.com',     300000),
    ('00000000-0000-0000-0000-000000000019', 'carlota',   'carlota@gmail.com',   200000),
    ('00000000-0000-0000-0000-000000000020', 'emilio',    'emilio@gmail.com',    200000)
ON CONFLICT (id) DO NOTHING;
